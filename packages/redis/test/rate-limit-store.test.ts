import { compose, isInvalidOptionsError } from '@shallot/core';
import { circuitBreaker } from '@shallot/circuit-breaker';
import { isRateLimitExceededError, rateLimit } from '@shallot/rate-limit';
import { redisRateLimitStore } from '@shallot/redis';
import { createTestServer, settle, type TestServer } from '@shallot/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, redisUrl, removeKeys, testPrefix } from './support.js';

describeWithRedis('redisRateLimitStore', () => {
  let redis: Redis;
  let upstream: TestServer;
  let prefix: string;
  const closers: (() => Promise<unknown>)[] = [];
  const store = (options: Partial<Parameters<typeof redisRateLimitStore>[0]> = {}) => {
    const made = redisRateLimitStore({ url: redisUrl, keyPrefix: prefix, timeoutMs: 2_000, ...options });
    closers.push(() => made.close());
    return made;
  };

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    upstream = await createTestServer();
    for (const path of ['/shared', '/expiry', '/spaced']) upstream.route(path, { status: 200 });
  });
  afterAll(async () => {
    await upstream.close();
    redis.disconnect();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await removeKeys(redis, prefix);
  });

  it('shares one bucket between clients that use the same Redis and prefix', async () => {
    prefix = testPrefix('rl-share');
    const limit = { limit: 5, intervalMs: 60_000, mode: 'reject' as const };
    await using a = compose().use(rateLimit({ ...limit, store: store() })).build({ baseUrl: upstream.url });
    await using b = compose().use(rateLimit({ ...limit, store: store() })).build({ baseUrl: upstream.url });
    const outcomes: unknown[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await settle((i % 2 === 0 ? a : b).get('/shared')));
    expect(outcomes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(isRateLimitExceededError(outcomes[5])).toBe(true);
    expect(upstream.hits('/shared')).toBe(5);
  });

  it('keeps one number per bucket, expiring once the bucket is full again', async () => {
    prefix = testPrefix('rl-expiry');
    await using client = compose().use(rateLimit({ limit: 10, intervalMs: 1_000, store: store() })).build({ baseUrl: upstream.url });
    await settle(client.get('/expiry'));
    const keys = await redis.keys(`*${prefix}*`);
    expect(keys).toEqual([`{${prefix}rl:global}`]);
    // One token of ten per second used: full again within 100 ms.
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(101);
  });

  it('hands out reserved slots in wait mode, spaced by the emission interval', async () => {
    prefix = testPrefix('rl-wait');
    const shared = { limit: 20, intervalMs: 1_000, burst: 1 };
    await using a = compose().use(rateLimit({ ...shared, store: store() })).build({ baseUrl: upstream.url });
    await using b = compose().use(rateLimit({ ...shared, store: store() })).build({ baseUrl: upstream.url });
    const started = Date.now();
    await Promise.all([a, b, a, b].map((client) => settle(client.get('/spaced'))));
    const arrivals = upstream.requests('/spaced').map((r) => r.at - started).sort((x, y) => x - y);
    expect(arrivals).toHaveLength(4);
    // Four slots 50 ms apart: the last cannot go before 150 ms.
    expect(arrivals[3]).toBeGreaterThanOrEqual(145);
  });

  it('gives the token back when an inner layer refuses the request', async () => {
    prefix = testPrefix('rl-refund');
    upstream.route('/broken', [{ status: 500 }, { status: 200 }]);
    const limiter = rateLimit({ limit: 2, intervalMs: 60_000, mode: 'reject', store: store() });
    const breaker = circuitBreaker({ key: 'global', failureThreshold: 1, recoveryTimeoutMs: 60_000 });
    await using client = compose().use(limiter).use(breaker).build({ baseUrl: upstream.url });
    expect(await settle(client.get('/broken'))).toBe(500);
    // Refused by the open circuit, never sent: each token goes back to the bucket.
    for (let i = 0; i < 5; i++) expect(await settle(client.get('/broken'))).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    await breaker.reset('global');
    expect(await settle(client.get('/broken'))).toBe(200);
    expect(isRateLimitExceededError(await settle(client.get('/broken')))).toBe(true);
    expect(upstream.hits('/broken')).toBe(2);
  });

  it('holds the bucket when the upstream says its window is spent', async () => {
    prefix = testPrefix('rl-pause');
    upstream.route('/spent', { status: 429, headers: { 'retry-after': '30' } });
    await using client = compose()
      .use(rateLimit({ limit: 100, intervalMs: 1_000, mode: 'reject', adaptive: {}, store: store() }))
      .build({ baseUrl: upstream.url });
    expect(await settle(client.get('/spent'))).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refused = await settle(client.get('/spent'));
    expect(isRateLimitExceededError(refused)).toBe(true);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(25_000);
    expect(upstream.hits('/spent')).toBe(1);
  });

  it('refuses options naming neither or both of client and url', () => {
    const neither = (() => {
      try {
        redisRateLimitStore({});
      } catch (error) {
        return error;
      }
    })();
    expect(isInvalidOptionsError(neither)).toBe(true);
    expect(String(neither)).toContain('redisRateLimitStore.client');
    expect(() => redisRateLimitStore({ url: 'http://nope' })).toThrow(/redisRateLimitStore\.url/);
    expect(() => redisRateLimitStore({ url: redisUrl, timeoutMs: -1 })).toThrow(/redisRateLimitStore\.timeoutMs/);
  });
});
