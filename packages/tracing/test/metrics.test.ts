import { type Clock, compose, defineMiddleware, isInvalidOptionsError, realClock } from '@shallot/core';
import { createTestServer, failTimes, mockTransport, type TestServer, waitFor } from '@shallot/testing';
import { metrics } from '@shallot/tracing';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** A stand-in for @shallot/retry: re-sends on 5xx up to `max` times. */
const retryOn5xx = (max = 3) =>
  defineMiddleware(async function retry(ctx, next) {
    for (let attempt = 1; ; attempt++) {
      const response = await next();
      if (response.status < 500 || attempt >= max) return response;
      await response.arrayBuffer();
    }
  });

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  [a, b] = await Promise.all([createTestServer(), createTestServer()]);
});
afterAll(() => Promise.all([a.close(), b.close()]));
beforeEach(() => {
  a.reset();
  b.reset();
});

const hostOf = (server: TestServer) => `127.0.0.1:${server.port}`;

describe('metrics()', () => {
  it('counts requests, status codes, errors and latency per host', async () => {
    a.route('/ok', { json: {} }).route('/teapot', { status: 418 }).route('/reset', { action: 'reset' });
    b.route('/ok', { delayMs: 30, json: {} });
    const stats = metrics();
    await using client = compose().use(stats).build();
    for (let i = 0; i < 3; i++) await (await client.get(`${a.url}/ok`)).text();
    await (await client.get(`${a.url}/teapot`)).text();
    await client.get(`${a.url}/reset`).catch(() => {});
    await (await client.get(`${b.url}/ok`)).text();

    const snapshot = stats.snapshot();
    expect(snapshot).toMatchObject({ requests: 6, errors: 1, inFlight: 0 });
    expect(Object.keys(snapshot.hosts).sort()).toEqual([hostOf(a), hostOf(b)].sort());
    const hostA = snapshot.hosts[hostOf(a)];
    expect(hostA).toMatchObject({ requests: 5, errors: 1, inFlight: 0, attempts: 5, statusCodes: { 200: 3, 418: 1 }, errorTypes: { NetworkError: 1 } });
    expect(hostA?.errorRate).toBeCloseTo(0.2);
    expect(hostA?.latencyMs.count).toBe(4);
    const hostB = snapshot.hosts[hostOf(b)];
    expect(hostB?.latencyMs.count).toBe(1);
    // The 30 ms reply: p50 is that one value (within the histogram's 5 %), and never below the server's delay.
    expect(hostB?.latencyMs.p50).toBeGreaterThanOrEqual(25);
    expect(hostB?.latencyMs.p50).toBeLessThan(5_000);
    expect(hostB?.latencyMs.min).toBe(hostB?.latencyMs.max);
    expect(snapshot.latencyMs.count).toBe(5);
  });

  it('shows requests in flight', async () => {
    a.route('/slow', { delayMs: 150, json: {} });
    const stats = metrics();
    await using client = compose().use(stats).build({ baseUrl: a.url });
    const pending = [client.get('/slow'), client.get('/slow')];
    await waitFor(() => a.hits('/slow') === 2);
    expect(stats.snapshot().hosts[hostOf(a)]?.inFlight).toBe(2);
    expect(stats.snapshot().inFlight).toBe(2);
    for (const response of await Promise.all(pending)) await response.text();
    expect(stats.snapshot().hosts[hostOf(a)]).toMatchObject({ inFlight: 0, requests: 2 });
  });

  it('counts attempts apart from logical requests', async () => {
    a.route('/flaky', failTimes(2));
    const stats = metrics();
    await using client = compose().use(stats).use(retryOn5xx(3)).build({ baseUrl: a.url });
    await (await client.get('/flaky')).text();
    expect(stats.snapshot().hosts[hostOf(a)]).toMatchObject({ requests: 1, attempts: 3, statusCodes: { 200: 1 } });
  });

  it('reset() forgets the counts but keeps requests in flight', async () => {
    a.route('/ok', { json: {} }).route('/slow', { delayMs: 100, json: {} });
    const stats = metrics();
    await using client = compose().use(stats).build({ baseUrl: a.url });
    await (await client.get('/ok')).text();
    const pending = client.get('/slow');
    await waitFor(() => a.hits('/slow') === 1);
    stats.reset();
    expect(stats.snapshot()).toMatchObject({ requests: 0, errors: 0, inFlight: 1 });
    await (await pending).text();
    expect(stats.snapshot().hosts[hostOf(a)]).toMatchObject({ requests: 1, inFlight: 0, statusCodes: { 200: 1 } });
  });

  it('keys by origin or by a function, and redacts what a function returns', async () => {
    a.route('/ok', { json: {} });
    const byOrigin = metrics({ key: 'origin' });
    const byTenant = metrics({ key: (ctx) => `tenant?api_key=${ctx.request.headers.get('x-tenant') ?? 'none'}` });
    await using client = compose().use(byOrigin).use(byTenant).build({ baseUrl: a.url });
    await (await client.get('/ok', { headers: { 'x-tenant': 'acme' } })).text();
    expect(Object.keys(byOrigin.snapshot().hosts)).toEqual([a.url]);
    expect(Object.keys(byTenant.snapshot().hosts)).toEqual(['tenant?api_key=[REDACTED]']);
  });

  it('keeps at most maxHosts keys, dropping the least recently used', async () => {
    const stats = metrics({ maxHosts: 3 });
    await using client = compose().use(stats).build({ transport: mockTransport(() => new Response('ok')) });
    for (const host of ['h1', 'h2', 'h3', 'h1', 'h4', 'h5']) await (await client.get(`http://${host}.test/`)).text();
    expect(Object.keys(stats.snapshot().hosts).sort()).toEqual(['h1.test', 'h4.test', 'h5.test']);
  });

  it('memory does not grow with requests: a snapshot after 5,000 requests has the shape of one after 10', async () => {
    let now = 0;
    const clock: Clock = { now: () => now, sleep: realClock.sleep, setTimer: realClock.setTimer };
    const tick = defineMiddleware(async function tick(_ctx, next) {
      now += 1 + (now % 97);
      return next();
    });
    const stats = metrics();
    await using client = compose().use(stats).use(tick).build({ transport: mockTransport(() => new Response('ok')), clock });
    for (let i = 0; i < 10; i++) await client.get('http://api.test/');
    const early = stats.snapshot();
    for (let i = 0; i < 4_990; i++) await client.get('http://api.test/');
    const late = stats.snapshot();
    expect(late.requests).toBe(5_000);
    const shape = (value: unknown): unknown =>
      value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)])) : typeof value;
    expect(shape(late)).toEqual(shape(early));
  });

  it('property: p50, p95 and p99 are within 5 % of the exact nearest-rank values', async () => {
    let now = 0;
    const clock: Clock = { now: () => now, sleep: realClock.sleep, setTimer: realClock.setTimer };
    const latencies: number[] = [];
    const take = defineMiddleware(async function take(_ctx, next) {
      now += latencies.shift() ?? 0;
      return next();
    });
    const stats = metrics();
    await using client = compose().use(stats).use(take).build({ transport: mockTransport(() => new Response('ok')), clock });
    const exact = (sorted: number[], q: number): number => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1] as number;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0.05, max: 120_000, noNaN: true }), { minLength: 1, maxLength: 120 }), async (samples) => {
        stats.reset();
        latencies.push(...samples);
        for (let i = 0; i < samples.length; i++) await client.get('http://api.test/');
        const summary = stats.snapshot().hosts['api.test']?.latencyMs;
        const sorted = [...samples].sort((x, y) => x - y);
        expect(summary?.count).toBe(samples.length);
        // The fake clock's sum of samples loses the last bits of a double: compare to 1e-6 ms.
        expect(summary?.min).toBeCloseTo(sorted[0] as number, 6);
        expect(summary?.max).toBeCloseTo(sorted[sorted.length - 1] as number, 6);
        for (const [q, value] of [
          [0.5, summary?.p50],
          [0.95, summary?.p95],
          [0.99, summary?.p99],
        ] as const) {
          const truth = exact(sorted, q);
          expect(Math.abs((value as number) - truth)).toBeLessThanOrEqual(truth * 0.05 + 1e-6);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('shows its name in describe() and rejects bad options', async () => {
    await using client = compose().use(metrics({ maxHosts: 5 })).build({ transport: mockTransport() });
    expect(client.describe()[0]).toMatchObject({ name: 'metrics', options: { key: 'host', maxHosts: 5 } });
    let error: unknown;
    try {
      metrics({ maxHosts: 0 });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toContain('metrics.maxHosts');
  });
});
