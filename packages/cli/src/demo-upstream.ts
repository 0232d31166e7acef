import { createTestServer, type TestServer } from '@shallot/testing';

/** The demo's flaky upstream: each route misbehaves in the way one layer is there for. */
export interface DemoUpstream {
  readonly server: TestServer;
  /** Makes `/down` answer 200 from now on. */
  heal(): void;
  close(): Promise<void>;
}

/**
 * Starts the demo's upstream on 127.0.0.1 (a free port):
 * - `/items`: cacheable for 1 s, with an ETag, so it is a MISS, a HIT, then REVALIDATED by a 304;
 * - `/flaky`: 503 twice, then 200;
 * - `/quota`: 429 with `Retry-After: 1` once, then 200;
 * - `/burst`: fast and not cacheable, for the rate limiter;
 * - `/slow`: the first request takes 600 ms, later ones answer at once (a hedge's copy wins);
 * - `/old`: a 301 to `/items`;
 * - `/down`: 503 until `heal()`.
 */
export async function startDemoUpstream(): Promise<DemoUpstream> {
  const server = await createTestServer();
  let down = true;
  server
    .route('/items', { json: { items: ['shallot', 'leek', 'chive'] }, headers: { 'cache-control': 'max-age=1' }, etag: '"items-v1"' })
    .route('/flaky', [
      { status: 503, json: { error: 'warming up' }, times: 2 },
      { json: { ok: true } },
    ])
    .route('/quota', [
      { status: 429, retryAfter: 1, json: { error: 'slow down' } },
      { json: { ok: true } },
    ])
    .route('/burst', { json: { ok: true }, headers: { 'cache-control': 'no-store' } })
    .route('/slow', [{ delayMs: 600, json: { copy: 'slow' } }, { json: { copy: 'fast' } }])
    .route('/old', { status: 301, headers: { location: '/items' } })
    .route('/down', (_request, response) => {
      response.writeHead(down ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(down ? { error: 'down' } : { ok: true }));
    });
  return {
    server,
    heal() {
      down = false;
    },
    close: () => server.close(),
  };
}
