import { compose } from '@shallot/core';
import { createTestServer, type TestServer, virtualClock, waitFor } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimit, readUpstreamLimit } from '@shallot/rate-limit';

let upstream: TestServer;
afterEach(async () => upstream?.close());

describe('rateLimit adaptive', () => {
  it('halves the limit on a 429 and spaces the next requests twice as far apart', async () => {
    upstream = await createTestServer();
    upstream.route('/x', [{ status: 429 }, { status: 200 }]);
    const clock = virtualClock();
    const limiter = rateLimit({ limit: 10, intervalMs: 1_000, burst: 1, adaptive: {} });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url, clock });
    expect((await client.get('/x')).status).toBe(429);
    expect(limiter.currentLimit()).toBe(5);
    const pending = Array.from({ length: 3 }, () => client.exchange('GET', '/x'));
    await waitFor(() => clock.pendingTimers === 3);
    await clock.advance(1_000);
    const waited = (await Promise.all(pending)).map((e) => e.context.rateLimit?.waitedMs);
    // The first waits out the old 100 ms spacing; after it, 200 ms apart.
    expect(waited).toEqual([100, 300, 500]);
  });

  it('halves once for a burst of 429s caused by the same overload', async () => {
    upstream = await createTestServer();
    upstream.route('/x', { status: 429 });
    const limiter = rateLimit({ limit: 8, intervalMs: 1_000, adaptive: {} });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url });
    const responses = await Promise.all(Array.from({ length: 4 }, () => client.get('/x')));
    expect(responses.map((r) => r.status)).toEqual([429, 429, 429, 429]);
    expect(limiter.currentLimit()).toBe(4);
  });

  it('grows the limit back additively, up to the configured limit', async () => {
    upstream = await createTestServer();
    upstream.route('/x', [{ status: 429 }, { status: 200 }]);
    const clock = virtualClock();
    const limiter = rateLimit({ limit: 4, intervalMs: 1_000, adaptive: { minLimit: 1 } });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url, clock });
    await (await client.get('/x')).arrayBuffer();
    const seen = [limiter.currentLimit()];
    for (let i = 0; i < 8; i++) {
      await clock.advance(1_000);
      await (await client.get('/x')).arrayBuffer();
      seen.push(limiter.currentLimit());
    }
    expect(seen[0]).toBe(2);
    expect(seen[1]).toBe(2.5);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(seen.at(-1)).toBe(4);
  });

  it('cuts the limit when responses are slower than latencyTargetMs', async () => {
    upstream = await createTestServer();
    upstream.route('/slow', { status: 200, delayMs: 80 });
    upstream.route('/fast', { status: 200 });
    const limiter = rateLimit({ limit: 1_000, intervalMs: 1_000, adaptive: { latencyTargetMs: 40 } });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url });
    await (await client.get('/fast')).arrayBuffer();
    expect(limiter.currentLimit()).toBe(1_000);
    await (await client.get('/slow')).arrayBuffer();
    expect(limiter.currentLimit()).toBe(500);
  });

  it('holds the bucket until RateLimit-Reset when RateLimit-Remaining is 0', async () => {
    upstream = await createTestServer();
    upstream.route('/x', [{ status: 200, headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '2' } }, { status: 200 }]);
    const clock = virtualClock();
    const limiter = rateLimit({ limit: 100, intervalMs: 1_000, adaptive: {} });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url, clock });
    await (await client.get('/x')).arrayBuffer();
    const next = client.exchange('GET', '/x');
    await waitFor(() => clock.pendingTimers === 1);
    await clock.advance(2_000);
    expect((await next).context.rateLimit?.waitedMs).toBe(2_000);
    // A full window, not a throttle: the limit itself is untouched.
    expect(limiter.currentLimit()).toBe(100);
  });

  it('honours Retry-After on a 429', async () => {
    upstream = await createTestServer();
    upstream.route('/x', [{ status: 429, retryAfter: 3 }, { status: 200 }]);
    const clock = virtualClock();
    const limiter = rateLimit({ limit: 100, intervalMs: 1_000, adaptive: {} });
    await using client = compose().use(limiter).build({ baseUrl: upstream.url, clock });
    await (await client.get('/x')).arrayBuffer();
    expect(limiter.currentLimit()).toBe(50);
    const next = client.exchange('GET', '/x');
    await waitFor(() => clock.pendingTimers === 1);
    await clock.advance(3_000);
    expect((await next).context.rateLimit?.waitedMs).toBe(3_000);
  });

  it('reads the upstream limit headers in their common spellings', () => {
    const now = 1_000_000;
    const wall = 1_700_000_000_000;
    const read = (headers: Record<string, string>) => readUpstreamLimit(new Headers(headers), now, wall);
    expect(read({ 'RateLimit-Remaining': '3', 'RateLimit-Reset': '10' })).toEqual({ remaining: 3, resetAt: now + 10_000 });
    expect(read({ 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '30' })).toEqual({ remaining: 0, resetAt: now + 30_000 });
    // GitHub style: a Unix time in seconds.
    expect(read({ 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(wall / 1000 + 60) })).toEqual({ remaining: 0, resetAt: now + 60_000 });
    expect(read({ RateLimit: '"default";r=0;t=15' })).toEqual({ remaining: 0, resetAt: now + 15_000 });
    expect(read({ RateLimit: 'limit=100, remaining=7, reset=20' })).toEqual({ remaining: 7, resetAt: now + 20_000 });
    expect(read({ 'Retry-After': '5' })).toEqual({ retryAt: now + 5_000 });
    expect(read({ 'Retry-After': new Date(wall + 8_000).toUTCString() })).toEqual({ retryAt: now + 8_000 });
    expect(read({ 'RateLimit-Remaining': 'soon' })).toEqual({});
  });
});
