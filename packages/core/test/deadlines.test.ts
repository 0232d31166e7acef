import { getEventListeners } from 'node:events';
import { AbortScope, compose, isTimeoutError, nodeFetchTransport, signalWatchers, type Transport, TransportSignal, undiciTransport } from '@shallot/core';
import { hedge } from '@shallot/hedge';
import { concurrencyLimit, isRateLimitExceededError, rateLimit } from '@shallot/rate-limit';
import { createTestServer, settle, type TestServer, waitFor } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
  server.route('/x', { json: { ok: true } });
  server.route('/slow', { delayMs: 40, json: { ok: true } });
  server.route('/hang', { action: 'hang' });
  server.route('/truncated', { action: 'truncate', body: 'part of a body' });
  server.route('/reset-body', (_request, response, raw) => {
    response.writeHead(200, { 'content-length': '1000' });
    response.write('x'.repeat(100), () => raw.socket.resetAndDestroy());
  });
  server.route('/stream', { chunks: ['a', 'b', 'c'], chunkDelayMs: 20 });
});
afterAll(async () => {
  await server.close();
});

const transports: Array<[string, (maxSockets?: number) => Transport]> = [
  ['undici', (maxSockets = 64) => undiciTransport({ maxSockets })],
  ['node-fetch', (maxSockets = 64) => nodeFetchTransport({ maxSockets })],
];
const day = 24 * 60 * 60 * 1000;

/** Runs `count` requests, `concurrency` at a time. */
async function load(count: number, concurrency: number, one: () => Promise<unknown>): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await one();
    }),
  );
}

/** Collects MaxListenersExceededWarning while `run` runs. */
async function listenerWarnings(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await run();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe.each(transports)('%s transport: deadlines and signals', (_name, make) => {
  it('leaves nothing on a long-lived caller signal after 20,000 requests through timeout and hedge', async () => {
    const caller = new AbortController();
    await using client = compose()
      .use(timeout({ totalMs: 30_000 }))
      .use(hedge({ delayMs: 5_000 }))
      .use(timeout({ attemptMs: 10_000 }))
      .build({ transport: make() });
    await load(20_000, 64, async () => (await client.get(`${server.url}/x`, { signal: caller.signal })).json());
    // A body's 'close' (where undici lets go of the signal) follows its 'end' by a tick.
    await waitFor(() => signalWatchers(caller.signal) === 0, { timeoutMs: 1_000 });
    expect(signalWatchers(caller.signal)).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  }, 60_000);

  it('a body that fails or is cancelled half-way leaves nothing on the caller signal (node-fetch kept its listener)', async () => {
    const caller = new AbortController();
    await using client = compose().use(timeout({ totalMs: 30_000 })).build({ transport: make() });
    for (const path of ['/truncated', '/reset-body']) {
      const response = await client.get(`${server.url}${path}`, { signal: caller.signal });
      await expect(response.arrayBuffer()).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    }
    const cancelled = await client.get(`${server.url}/stream`, { signal: caller.signal });
    await cancelled.body?.cancel();
    await waitFor(() => signalWatchers(caller.signal) === 0, { timeoutMs: 1_000 }).catch(() => {});
    expect(signalWatchers(caller.signal)).toBe(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('500 requests sharing one caller signal add one listener to it, with no layer, concurrencyLimit or rateLimit waits', async () => {
    const caller = new AbortController();
    await using bare = compose().build({ transport: make(16) });
    await using limited = compose().use(concurrencyLimit({ max: 8 })).build({ transport: make(16) });
    await using paced = compose().use(rateLimit({ limit: 5_000, intervalMs: 1_000, burst: 1 })).build({ transport: make(16) });
    const warnings = await listenerWarnings(async () => {
      for (const client of [bare, limited, paced]) {
        const pending = Array.from({ length: 500 }, async () => (await client.get(`${server.url}/x`, { signal: caller.signal })).json());
        await waitFor(() => getEventListeners(caller.signal, 'abort').length > 0 || signalWatchers(caller.signal) > 0, { timeoutMs: 2_000 }).catch(() => {});
        expect(getEventListeners(caller.signal, 'abort').length).toBeLessThanOrEqual(1);
        await Promise.all(pending);
      }
    });
    expect(warnings).toEqual([]);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('the caller abort still reaches every request sharing its signal', async () => {
    const caller = new AbortController();
    await using client = compose().use(timeout({ totalMs: 30_000 })).build({ transport: make() });
    const pending = Array.from({ length: 100 }, () => settle(client.get(`${server.url}/hang`, { signal: caller.signal })));
    await waitFor(() => server.requests('/hang').filter((r) => !r.aborted).length >= 64);
    caller.abort(new Error('stop'));
    const outcomes = await Promise.all(pending);
    expect(outcomes.every((o) => o instanceof Error && o.message === 'stop')).toBe(true);
  });

  it('a timeout of 30 days does not fire early (durations past 2^31 ms)', async () => {
    await using client = compose()
      .use(timeout({ totalMs: 30 * day, attemptMs: 2 ** 31 + 5 }))
      .build({ transport: make(), timeoutMs: 40 * day });
    const response = await client.get(`${server.url}/slow`, { timeoutMs: 31 * day });
    expect(response.status).toBe(200);
    await response.json();
  });

  it('a read timeout of 30 days does not fire early', async () => {
    await using client = compose().use(timeout({ readMs: 30 * day })).build({ transport: make() });
    expect(await (await client.get(`${server.url}/slow`)).json()).toEqual({ ok: true });
  });

  it('each of many requests with the same timeout expires at its own deadline, whatever finished before it', async () => {
    await using client = compose().use(timeout({ attemptMs: 120 })).build({ transport: make() });
    const first = settle(client.get(`${server.url}/hang`));
    // Requests that start later and finish at once leave the shared timer's queue.
    for (let i = 0; i < 20; i++) await (await client.get(`${server.url}/x`)).json();
    const second = settle(client.get(`${server.url}/hang`));
    const [a, b] = await Promise.all([first, second]);
    expect(isTimeoutError(a) && a.kind).toBe('attempt');
    expect(isTimeoutError(b) && b.kind).toBe('attempt');
  });
});

describe('TransportSignal', () => {
  it('a listener added after the scope aborted is called on a later microtask, never inside addEventListener (node-fetch crashed on it)', async () => {
    // node-fetch adds its abort listener half-way through setting a request up: aborting it
    // there left the request's 'error' unheard, an uncaught exception found by the chaos soak.
    const scope = new AbortScope({ abortable: true });
    const signal = new TransportSignal(scope);
    const reason = new Error('deadline');
    scope.abort(reason);
    let calls = 0;
    signal.addEventListener('abort', () => calls++);
    expect(calls).toBe(0);
    await Promise.resolve();
    expect(calls).toBe(1);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
  });

  it('a listener removed before that microtask is not called', async () => {
    const scope = new AbortScope({ abortable: true });
    const signal = new TransportSignal(scope);
    scope.abort(new Error('deadline'));
    let calls = 0;
    const listener = (): void => {
      calls++;
    };
    signal.addEventListener('abort', listener);
    signal.removeEventListener('abort', listener);
    await Promise.resolve();
    expect(calls).toBe(0);
  });
});

describe('rate limits over long intervals', () => {
  it('rateLimit({ limit: 1, intervalMs: 30 days }) lets one request through and refuses the rest (reject)', async () => {
    const before = server.hits('/x');
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: 30 * day, mode: 'reject' })).build();
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => settle(client.get(`${server.url}/x`))));
    expect(server.hits('/x') - before).toBe(1);
    expect(outcomes.filter(isRateLimitExceededError)).toHaveLength(29);
  });

  it('rateLimit({ limit: 1, intervalMs: 1 day }) in wait mode holds the rest instead of letting them through', async () => {
    const before = server.hits('/x');
    const caller = new AbortController();
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: day })).build();
    const outcomes = Array.from({ length: 30 }, () => settle(client.get(`${server.url}/x`, { signal: caller.signal })));
    await waitFor(() => server.hits('/x') - before >= 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hits('/x') - before).toBe(1);
    caller.abort(new Error('enough'));
    const settled = await Promise.all(outcomes);
    expect(settled.filter((o) => o instanceof Error && o.message === 'enough')).toHaveLength(29);
  });
});
