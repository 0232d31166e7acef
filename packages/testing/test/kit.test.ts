import { compose, defineMiddleware } from '@shallot/core';
import { createTestServer, mockTransport, type TestServer, virtualClock } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('createTestServer routes', () => {
  it('answers 404 for unrouted paths and records every request with its body', async () => {
    server = await createTestServer();
    await using client = compose().build({ baseUrl: server.url });
    const response = await client.post('/nowhere?x=1', { body: 'hello' });
    expect(response.status).toBe(404);
    await response.arrayBuffer();
    const [recorded] = server.requests('/nowhere');
    expect(recorded).toMatchObject({ method: 'POST', url: '/nowhere?x=1', path: '/nowhere', aborted: false });
    expect(recorded?.body.toString()).toBe('hello');
  });

  it('answers 304 to a matching If-None-Match and sets Retry-After', async () => {
    server = await createTestServer();
    server.route('/etag', { etag: '"v1"', json: { v: 1 } });
    server.route('/busy', { status: 429, retryAfter: 2 });
    await using client = compose().build({ baseUrl: server.url });
    const first = await client.get('/etag');
    expect(first.headers.get('etag')).toBe('"v1"');
    await first.arrayBuffer();
    expect((await client.get('/etag', { headers: { 'if-none-match': '"v1"' } })).status).toBe(304);
    const busy = await client.get('/busy');
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('2');
  });

  it('reset() forgets hits and restarts sequences', async () => {
    server = await createTestServer();
    server.route('/seq', [{ status: 500 }, { status: 201 }]);
    await using client = compose().build({ baseUrl: server.url });
    expect((await client.get('/seq')).status).toBe(500);
    server.reset();
    expect(server.hits()).toBe(0);
    expect((await client.get('/seq')).status).toBe(500);
    expect((await client.get('/seq')).status).toBe(201);
  });
});

describe('mockTransport', () => {
  it('answers from the handler and keeps the call history', async () => {
    const transport = mockTransport((call) => Response.json({ echoed: call.body, method: call.method }));
    await using client = compose().build({ transport });
    const response = await client.post('https://api.example.test/items', { json: { a: 1 } });
    expect(await response.json()).toEqual({ echoed: '{"a":1}', method: 'POST' });
    expect(transport.calls).toHaveLength(1);
    expect(transport.calls[0]?.url).toBe('https://api.example.test/items');
    expect(transport.calls[0]?.headers.get('content-type')).toBe('application/json');
    transport.reset();
    expect(transport.calls).toHaveLength(0);
  });

  it('honours the abort signal', async () => {
    const transport = mockTransport(() => new Promise<Response>(() => {}));
    await using client = compose().build({ transport });
    await expect(client.get('https://api.example.test/', { timeoutMs: 20 })).rejects.toMatchObject({ kind: 'total' });
  });
});

describe('virtualClock', () => {
  it('moves time only when advanced, firing timers in order', async () => {
    const clock = virtualClock({ startMs: 0 });
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push('30'));
    clock.setTimer(10, () => fired.push('10'));
    const cancel = clock.setTimer(20, () => fired.push('20'));
    cancel();
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(15);
    expect(fired).toEqual(['10']);
    expect(clock.now()).toBe(15);
    await clock.advance(100);
    expect(fired).toEqual(['10', '30']);
    expect(clock.now()).toBe(115);
  });

  it('sleeps resolve on advance, reject at once on abort, and chained sleeps all run within one advance', async () => {
    const clock = virtualClock({ startMs: 0 });
    const steps: number[] = [];
    const chain = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        steps.push(clock.now());
      }
    })();
    await clock.advance(300);
    await chain;
    expect(steps).toEqual([100, 200, 300]);

    const controller = new AbortController();
    const sleeping = clock.sleep(1_000, controller.signal);
    controller.abort(new Error('woken'));
    await expect(sleeping).rejects.toThrow('woken');
    expect(clock.pendingTimers).toBe(0);
  });

  it('drives a client: a layer that sleeps 5 virtual seconds finishes without real waiting', async () => {
    server = await createTestServer();
    server.route('/ok', { json: { ok: true } });
    const clock = virtualClock();
    const patient = defineMiddleware(async function patient(ctx, next) {
      await ctx.clock.sleep(5_000, ctx.signal);
      return next();
    });
    await using client = compose().use(patient).build({ baseUrl: server.url, clock });
    const started = Date.now();
    const pending = client.get('/ok');
    await clock.runAll();
    expect((await pending).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('chaos', () => {
  it('injects the configured share of failures, deterministically for a seed, without touching the server', async () => {
    const { chaos } = await import('@shallot/testing');
    server = await createTestServer();
    server.route('/ok', { json: { ok: true } });
    const run = async (seed: number): Promise<number[]> => {
      const faults = chaos({ failureRate: 0.5, failWith: 503, seed });
      await using client = compose().use(faults).build({ baseUrl: server?.url });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        const response = await client.get('/ok');
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      expect(faults.stats()).toMatchObject({ requests: 40, failures: statuses.filter((s) => s === 503).length });
      return statuses;
    };
    const before = server.hits('/ok');
    const first = await run(7);
    expect(await run(7)).toEqual(first);
    const failures = first.filter((s) => s === 503).length;
    expect(failures).toBeGreaterThan(5);
    expect(failures).toBeLessThan(35);
    expect(server.hits('/ok') - before).toBe(2 * (40 - failures));
  });

  it('fails with network errors and timeouts, and adds latency on the clock', async () => {
    const { chaos } = await import('@shallot/testing');
    const transport = mockTransport();
    await using network = compose().use(chaos({ failureRate: 1 })).build({ transport });
    await expect(network.get('https://api.example.test/')).rejects.toMatchObject({ code: 'ERR_NETWORK' });
    await using timeouts = compose().use(chaos({ failureRate: 1, failWith: 'timeout' })).build({ transport });
    await expect(timeouts.get('https://api.example.test/')).rejects.toMatchObject({ code: 'ERR_TIMEOUT', kind: 'attempt' });
    const clock = virtualClock({ startMs: 0 });
    await using slow = compose().use(chaos({ latencyMs: 250 })).build({ transport, clock });
    const pending = slow.get('https://api.example.test/');
    await clock.advance(250);
    expect((await pending).status).toBe(200);
    expect(transport.calls).toHaveLength(1);
  });

  it('validates its options', async () => {
    const { chaos } = await import('@shallot/testing');
    expect(() => chaos({ failureRate: 2 })).toThrow('chaos.failureRate: expected a number <= 1, got 2');
  });
});
