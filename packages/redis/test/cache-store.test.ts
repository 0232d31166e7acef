import { cache } from '@shallot/cache';
import { compose } from '@shallot/core';
import { redisCacheStore } from '@shallot/redis';
import { createTestServer, type TestServer } from '@shallot/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, redisUrl, removeKeys, testPrefix } from './support.js';

describeWithRedis('redisCacheStore', () => {
  let redis: Redis;
  let upstream: TestServer;
  let prefix: string;
  const closers: (() => Promise<unknown>)[] = [];
  const store = (options: Partial<Parameters<typeof redisCacheStore>[0]> = {}) => {
    const made = redisCacheStore({ url: redisUrl, keyPrefix: prefix, timeoutMs: 2_000, ...options });
    closers.push(() => made.close());
    return made;
  };
  const member = (options: Partial<Parameters<typeof redisCacheStore>[0]> = {}) => {
    const client = compose().use(cache({ store: store(options), shared: true })).build({ baseUrl: upstream.url });
    closers.push(() => client.close());
    return client;
  };

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    upstream = await createTestServer();
  });
  afterAll(async () => {
    await upstream.close();
    redis.disconnect();
  });
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await removeKeys(redis, prefix);
    upstream.reset();
  });

  it('serves a response stored by one client as a HIT to another, byte for byte', async () => {
    prefix = testPrefix('cache-share');
    const bytes = Uint8Array.from({ length: 1_024 }, (_, i) => i % 256);
    upstream.route('/bytes', { status: 200, headers: { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' }, body: bytes });
    const a = member();
    const b = member();
    const first = await a.get('/bytes');
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(bytes);
    const second = await b.get('/bytes');
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(bytes);
    expect(upstream.hits('/bytes')).toBe(1);
  });

  it('lets a response live its freshness plus its stale windows', async () => {
    prefix = testPrefix('cache-ttl');
    upstream.route('/ttl', { status: 200, headers: { 'cache-control': 'max-age=60, stale-while-revalidate=30, stale-if-error=10' }, body: 'x' });
    const client = member();
    await (await client.get('/ttl')).text();
    const keys = await redis.keys(`*${prefix}*`);
    const ttls = await Promise.all(keys.map((key) => redis.pttl(key)));
    // The index lasts maxTtlMs (a day); the response 60 + 30 s (http-cache-semantics counts
    // the longer of the two stale windows).
    expect(ttls.sort((x, y) => x - y)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(ttls[0]).toBeGreaterThan(89_000);
    expect(ttls[0]).toBeLessThanOrEqual(90_000);
    expect(ttls[1]).toBeGreaterThan(86_000_000);
  });

  it('does not store a record larger than maxEntryBytes', async () => {
    prefix = testPrefix('cache-size');
    upstream.route('/big', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'x'.repeat(4_096) });
    upstream.route('/small', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'x'.repeat(100) });
    const client = member({ maxEntryBytes: 2_048 });
    for (let i = 0; i < 2; i++) expect((await client.get('/big')).headers.get('x-cache')).toBe('MISS');
    expect(upstream.hits('/big')).toBe(2);
    await (await client.get('/small')).text();
    expect((await client.get('/small')).headers.get('x-cache')).toBe('HIT');
  });

  it('clears every record under its prefix, and nothing else', async () => {
    prefix = testPrefix('cache-clear');
    upstream.route('/a', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'a' });
    const other = `${prefix}other:`;
    await redis.set(`{${other}cache:x}`, 'kept');
    const shared = store();
    const client = compose().use(cache({ store: shared })).build({ baseUrl: upstream.url });
    closers.push(() => client.close());
    await (await client.get('/a')).text();
    expect((await redis.keys(`{${prefix}cache:*`)).length).toBe(2);
    await shared.clear();
    expect(await redis.keys(`{${prefix}cache:*`)).toEqual([]);
    expect(await redis.get(`{${other}cache:x}`)).toBe('kept');
    expect((await client.get('/a')).headers.get('x-cache')).toBe('MISS');
  });
});
