import { compose, isInvalidOptionsError, isTimeoutError } from '@shallot/core';
import { timeout } from '@shallot/timeout';
import { createTestServer, settle, type TestServer, virtualClock, waitFor } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { isRateLimitExceededError, rateLimit, type RateLimitExceededError } from '@shallot/rate-limit';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function server(): Promise<TestServer> {
  const s = await createTestServer();
  s.route('*', { status: 200, body: 'ok' });
  servers.push(s);
  return s;
}

describe('rateLimit', () => {
  it('spaces 50 requests at 20/s with burst 5 over at least 2.2 s, never above the bucket in any window', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 20, intervalMs: 1_000, burst: 5 })).build({ baseUrl: upstream.url, clock });
    const start = clock.now();
    const pending = Array.from({ length: 50 }, () => client.exchange('GET', '/x'));
    await waitFor(() => clock.pendingTimers === 45);
    expect(clock.pendingTimers).toBe(45);
    await clock.advance(2_500);
    const exchanges = await Promise.all(pending);
    await Promise.all(exchanges.map((e) => e.response.arrayBuffer()));

    expect(upstream.hits('/x')).toBe(50);
    const granted = exchanges.map((e) => start + (e.context.rateLimit?.waitedMs ?? NaN)).sort((a, b) => a - b);
    expect(granted.filter((t) => t === start)).toHaveLength(5);
    expect(granted[49]! - start).toBeGreaterThanOrEqual(2_200);
    for (const from of granted) {
      for (const windowMs of [50, 250, 1_000]) {
        const inWindow = granted.filter((t) => t >= from && t < from + windowMs).length;
        expect(inWindow).toBeLessThanOrEqual(5 + Math.ceil(windowMs / 50) - 1);
      }
    }
  });

  it('serves waiting requests first come, first served', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 10, intervalMs: 1_000, burst: 1 })).build({ baseUrl: upstream.url, clock });
    const pending = Array.from({ length: 8 }, (_, i) => client.exchange('GET', `/x?n=${i}`));
    await waitFor(() => clock.pendingTimers === 7);
    await clock.advance(1_000);
    const waited = (await Promise.all(pending)).map((e) => e.context.rateLimit?.waitedMs);
    expect(waited).toEqual([0, 100, 200, 300, 400, 500, 600, 700]);
  });

  it('lets exactly the bucket through when 1,000 callers arrive at once in reject mode', async () => {
    const upstream = await server();
    await using client = compose().use(rateLimit({ limit: 10, intervalMs: 1_000, mode: 'reject' })).build({ baseUrl: upstream.url });
    const outcomes = await Promise.all(Array.from({ length: 1_000 }, () => settle(client.get('/x'))));
    const refused = outcomes.filter(isRateLimitExceededError) as RateLimitExceededError[];
    expect(outcomes.filter((o) => o === 200)).toHaveLength(10);
    expect(refused).toHaveLength(990);
    expect(refused.every((e) => e.code === 'ERR_RATE_LIMITED' && e.reason === 'rate' && e.retryAfterMs > 0 && e.retryAfterMs <= 100)).toBe(true);
    expect(upstream.hits('/x')).toBe(10);
  });

  it('tells the rejected caller exactly when a token is free', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 2, intervalMs: 1_000, mode: 'reject' })).build({ baseUrl: upstream.url, clock });
    expect(await settle(client.get('/x'))).toBe(200);
    expect(await settle(client.get('/x'))).toBe(200);
    const first = (await settle(client.get('/x'))) as RateLimitExceededError;
    expect(isRateLimitExceededError(first)).toBe(true);
    expect(first.retryAfterMs).toBe(500);
    expect(first.message).toContain(`GET ${upstream.url}/x`);
    await clock.advance(499);
    expect(((await settle(client.get('/x'))) as RateLimitExceededError).retryAfterMs).toBe(1);
    await clock.advance(1);
    expect(await settle(client.get('/x'))).toBe(200);
    expect(upstream.hits('/x')).toBe(3);
  });

  it('keeps per-user buckets independent (key: { header })', async () => {
    const upstream = await server();
    const limiter = rateLimit({ limit: 2, intervalMs: 60_000, key: { header: 'X-User-ID' }, mode: 'reject' });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url });
    const as = (user: string | undefined) => settle(client.get('/x', user === undefined ? {} : { headers: { 'x-user-id': user } }));
    expect([await as('alice'), await as('alice')]).toEqual([200, 200]);
    const refused = (await as('alice')) as RateLimitExceededError;
    expect(refused.key).toBe('alice');
    expect([await as('bob'), await as('bob')]).toEqual([200, 200]);
    expect(isRateLimitExceededError(await as('bob'))).toBe(true);
    // Requests without the header are not limited.
    for (let i = 0; i < 4; i++) expect(await as(undefined)).toBe(200);
    expect(upstream.hits('/x')).toBe(8);
  });

  it('keeps one bucket per host with key: host', async () => {
    const a = await server();
    const b = await server();
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: 60_000, key: 'host', mode: 'reject' })).build();
    expect(await settle(client.get(`${a.url}/x`))).toBe(200);
    expect(await settle(client.get(`${b.url}/x`))).toBe(200);
    const refused = (await settle(client.get(`${a.url}/x`))) as RateLimitExceededError;
    expect(refused.key).toBe(`127.0.0.1:${a.port}`);
  });

  it('rejects at once a wait longer than maxWaitMs, without spending a token', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: 1_000, maxWaitMs: 500 })).build({ baseUrl: upstream.url, clock });
    expect(await settle(client.get('/x'))).toBe(200);
    const refused = (await settle(client.get('/x'))) as RateLimitExceededError;
    expect(refused.reason).toBe('rate');
    expect(refused.retryAfterMs).toBe(1_000);
    await clock.advance(600);
    // 400 ms to wait now: within maxWaitMs.
    const waiting = client.exchange('GET', '/x');
    await waitFor(() => clock.pendingTimers === 1);
    await clock.advance(400);
    expect((await waiting).context.rateLimit?.waitedMs).toBe(400);
  });

  it('rejects at once a wait that would outlast the deadline', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose()
      .use(timeout({ totalMs: 300 }))
      .use(rateLimit({ limit: 1, intervalMs: 1_000 }))
      .build({ baseUrl: upstream.url, clock });
    expect(await settle(client.get('/x'))).toBe(200);
    const outcome = await settle(client.get('/x'));
    expect(isRateLimitExceededError(outcome)).toBe(true);
    expect(isTimeoutError(outcome)).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    expect(upstream.hits('/x')).toBe(1);
  });

  it('bounds the queue with maxQueue (reason: queue)', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: 100, maxQueue: 2 })).build({ baseUrl: upstream.url, clock });
    const first = settle(client.get('/x'));
    const queued = [settle(client.get('/x')), settle(client.get('/x'))];
    await waitFor(() => clock.pendingTimers === 2);
    const refused = (await settle(client.get('/x'))) as RateLimitExceededError;
    expect(refused.reason).toBe('queue');
    expect(refused.code).toBe('ERR_RATE_LIMITED');
    await clock.advance(200);
    expect(await Promise.all([first, ...queued])).toEqual([200, 200, 200]);
    expect(upstream.hits('/x')).toBe(3);
  });

  it('gives the token back when a waiting caller aborts', async () => {
    const upstream = await server();
    const clock = virtualClock();
    await using client = compose().use(rateLimit({ limit: 1, intervalMs: 1_000 })).build({ baseUrl: upstream.url, clock });
    expect(await settle(client.get('/x'))).toBe(200);
    const controller = new AbortController();
    const abandoned = settle(client.get('/x', { signal: controller.signal }));
    await waitFor(() => clock.pendingTimers === 1);
    controller.abort();
    expect(await abandoned).toBeInstanceOf(Error);
    // The slot the aborted caller held (1,000 ms from now) is free again: the next caller gets it.
    const next = client.exchange('GET', '/x');
    await waitFor(() => clock.pendingTimers === 1);
    await clock.advance(1_000);
    expect((await next).context.rateLimit?.waitedMs).toBe(1_000);
    expect(upstream.hits('/x')).toBe(2);
  });

  it('sets ctx.rateLimit', async () => {
    const upstream = await server();
    await using client = compose().use(rateLimit({ limit: 5, intervalMs: 1_000 })).build({ baseUrl: upstream.url });
    const { response, context } = await client.exchange('GET', '/x');
    await response.arrayBuffer();
    expect(context.rateLimit).toEqual({ key: 'global', waitedMs: 0 });
  });

  it('rejects bad options with InvalidOptionsError naming the option', () => {
    const cases: [unknown, RegExp][] = [
      [{ intervalMs: 1_000 }, /rateLimit\.limit: expected a number, got undefined/],
      [{ limit: 0, intervalMs: 1_000 }, /rateLimit\.limit: expected a number > 0, got 0/],
      [{ limit: 1, intervalMs: 1_000, mode: 'drop' }, /rateLimit\.mode: expected one of "wait" \| "reject"/],
      [{ limit: 1, intervalMs: 1_000, mode: 'reject', maxWaitMs: 10 }, /rateLimit\.maxWaitMs: only applies to mode: 'wait'/],
      [{ limit: 1, intervalMs: 1_000, key: { cookie: 'id' } }, /rateLimit\.key/],
      [{ limit: 1, intervalMs: 1_000, adaptive: { decreaseFactor: 2 } }, /rateLimit\.adaptive\.decreaseFactor/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        rateLimit(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(isInvalidOptionsError(thrown), String(message)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
  });
});
