import { cache } from '@shallot/cache';
import { circuitBreaker } from '@shallot/circuit-breaker';
import { compose, type Logger } from '@shallot/core';
import { rateLimit } from '@shallot/rate-limit';
import { redisCacheStore, redisCircuitBreakerStore, redisRateLimitStore, type RedisStoreControls } from '@shallot/redis';
import { createTestServer, settle, type TestServer, waitFor } from '@shallot/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithRedisServer, OwnRedisServer, testPrefix } from './support.js';

interface Line {
  level: string;
  msg: string;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (...args: unknown[]): void =>
      void lines.push({ level, msg: String(args.find((a) => typeof a === 'string')) });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describeWithRedisServer('Redis stores when Redis goes away', () => {
  let server: OwnRedisServer;
  let upstream: TestServer;
  const closers: (() => Promise<unknown>)[] = [];

  /** A client whose limiter, breaker and cache all keep their state in the test's own Redis. */
  const stack = (lines: Line[], url = server.url) => {
    const connection = { url, keyPrefix: testPrefix('outage'), timeoutMs: 200, healthCheckIntervalMs: 50, logger: recordingLogger(lines) };
    const stores = { limiter: redisRateLimitStore(connection), breaker: redisCircuitBreakerStore(connection), cache: redisCacheStore(connection) };
    const client = compose()
      .use(cache({ store: stores.cache }))
      .use(rateLimit({ limit: 100, intervalMs: 60_000, store: stores.limiter }))
      .use(circuitBreaker({ key: 'global', store: stores.breaker }))
      .build({ baseUrl: upstream.url });
    closers.push(() => client.close(), ...Object.values(stores).map((store) => () => store.close()));
    return { client, stores: Object.values(stores) as RedisStoreControls[], prefix: connection.keyPrefix };
  };

  beforeAll(async () => {
    server = await OwnRedisServer.start();
    upstream = await createTestServer();
    upstream.route('/live', { status: 200, body: 'live' });
    upstream.route('/cached', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'cached' });
  });
  afterAll(async () => {
    await upstream?.close();
    await server?.stop();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    server.thaw();
    await server.start();
  });

  it('keeps requests flowing on local state while redis-server is down, and shares state again after it restarts', async () => {
    const lines: Line[] = [];
    const { client, stores, prefix } = stack(lines);
    const changes: boolean[] = [];
    stores[0]!.onHealthChange(({ degraded }) => changes.push(degraded));
    const redis = new Redis(server.url);
    redis.on('error', () => {});
    try {
      expect(await settle(client.get('/live'))).toBe(200);
      expect(await settle(client.get('/cached'))).toBe(200);
      expect((await redis.keys(`*${prefix}*`)).length).toBeGreaterThanOrEqual(4);

      await server.stop();
      for (let i = 0; i < 20; i++) expect(await settle(client.get('/live'))).toBe(200);
      expect(stores.map((s) => s.degraded)).toEqual([true, true, true]);
      expect(stores.map((s) => s.stats().degradations)).toEqual([1, 1, 1]);
      expect(stores.every((s) => s.stats().fallbacks > 0)).toBe(true);
      // One warning per store, however many requests met the outage.
      expect(lines.filter((l) => l.level === 'warn')).toHaveLength(3);

      await server.start();
      await waitFor(() => stores.every((s) => !s.degraded), { timeoutMs: 5_000, intervalMs: 20 });
      expect(lines.filter((l) => l.level === 'info' && l.msg.includes('answers again'))).toHaveLength(3);
      expect(changes).toEqual([true, false]);
      const hitsBefore = upstream.hits('/cached');
      expect(await settle(client.get('/cached'))).toBe(200);
      expect(upstream.hits('/cached')).toBe(hitsBefore + 1);
      // The new (empty) server holds the shared state again: a bucket, a circuit, a cached response.
      const keys = await redis.keys(`*${prefix}*`);
      expect(keys.some((k) => k.includes(`${prefix}rl:`))).toBe(true);
      expect(keys.some((k) => k.includes(`${prefix}cb:`))).toBe(true);
      expect(keys.some((k) => k.includes(`${prefix}cache:`))).toBe(true);
    } finally {
      redis.disconnect();
    }
  });

  it('stops waiting on a Redis that hangs: one command times out, the rest go local at once', async () => {
    const lines: Line[] = [];
    const { client, stores } = stack(lines);
    expect(await settle(client.get('/live'))).toBe(200);
    server.freeze();
    for (let i = 0; i < 10; i++) expect(await settle(client.get('/live'))).toBe(200);
    // The limiter and the cache send a command per request: it timed out, and they went local.
    // The breaker sent none (a closed circuit is answered from its local copy): nothing to notice.
    expect(stores.map((s) => s.degraded)).toEqual([true, false, true]);
    expect(stores[0]!.stats().lastError).toContain('did not answer within 200 ms');
    server.thaw();
    await waitFor(() => stores.every((s) => !s.degraded), { timeoutMs: 5_000, intervalMs: 20 });
    expect(await settle(client.get('/live'))).toBe(200);
    expect(stores.map((s) => s.stats().degradations)).toEqual([1, 0, 1]);
  });

  it('serves requests from the start when Redis was never reachable', async () => {
    const lines: Line[] = [];
    const down = await OwnRedisServer.start();
    const url = down.url;
    await down.stop();
    const { client, stores } = stack(lines, url);
    for (let i = 0; i < 5; i++) expect(await settle(client.get('/live'))).toBe(200);
    expect(stores.map((s) => s.degraded)).toEqual([true, true, true]);
  });
});
