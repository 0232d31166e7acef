import { compose } from '@shallot/core';
import { type CircuitStateChange, circuitBreaker, type CircuitBreakerMiddleware } from '@shallot/circuit-breaker';
import { redisCircuitBreakerStore } from '@shallot/redis';
import { createTestServer, settle, type TestServer, waitFor } from '@shallot/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, redisUrl, removeKeys, testPrefix } from './support.js';

describeWithRedis('redisCircuitBreakerStore', () => {
  let redis: Redis;
  let upstream: TestServer;
  let prefix: string;
  const closers: (() => Promise<unknown>)[] = [];

  /** A breaker of its own "process": its own store, its own connections, the shared prefix. */
  const member = (options: Parameters<typeof circuitBreaker>[0] = {}) => {
    const store = redisCircuitBreakerStore({ url: redisUrl, keyPrefix: prefix, timeoutMs: 2_000 });
    const changes: CircuitStateChange[] = [];
    const breaker = circuitBreaker({ key: 'global', failureThreshold: 3, recoveryTimeoutMs: 200, ...options, store, onStateChange: (c) => changes.push(c) });
    const client = compose().use(breaker).build({ baseUrl: upstream.url });
    closers.push(() => client.close(), () => store.close());
    return { store, breaker, client, changes };
  };
  const subscribers = async (): Promise<number> => {
    const [, count] = (await redis.pubsub('NUMSUB', `${prefix}cb`)) as [string, number];
    return Number(count);
  };
  const opened = (breaker: CircuitBreakerMiddleware) => () => breaker.state('global') === 'open';

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    upstream = await createTestServer();
    upstream.route('/ok', { status: 200 });
    upstream.route('/fail', { status: 503 });
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

  it('sends no Redis command for a request through a closed circuit', async () => {
    prefix = testPrefix('cb-hot');
    const { client } = member();
    await waitFor(async () => (await subscribers()) === 1);
    expect(await settle(client.get('/ok'))).toBe(200);
    const monitor = await redis.duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((arg) => arg.includes(prefix))) seen.push(args[0]!);
    });
    try {
      for (let i = 0; i < 50; i++) expect(await settle(client.get('/ok'))).toBe(200);
      // A marker through Redis itself: once MONITOR shows it, everything sent before it was shown too.
      await redis.get(`${prefix}marker`);
      await waitFor(() => seen.includes('get'));
      expect(seen).toEqual(['get']);
    } finally {
      monitor.disconnect();
    }
    expect(upstream.hits('/ok')).toBe(51);
  });

  it('fails fast in every process once one of them opened the circuit', async () => {
    prefix = testPrefix('cb-open');
    const a = member();
    const b = member();
    await waitFor(async () => (await subscribers()) === 2);
    expect(await settle(a.client.get('/ok'))).toBe(200);
    expect(await settle(b.client.get('/ok'))).toBe(200);
    for (let i = 0; i < 3; i++) expect(await settle(a.client.get('/fail'))).toBe(503);
    await waitFor(opened(a.breaker), { timeoutMs: 1_000 });
    await waitFor(opened(b.breaker), { timeoutMs: 1_000 });
    expect(await settle(b.client.get('/ok'))).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    expect(upstream.hits('/ok')).toBe(2);
    // b heard of it: its listeners saw the change although its own requests did not cause it.
    expect(b.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open']);
    expect(a.changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open']);
  });

  it('counts failures from every process against the same circuit', async () => {
    prefix = testPrefix('cb-count');
    const a = member();
    const b = member();
    await waitFor(async () => (await subscribers()) === 2);
    expect(await settle(a.client.get('/fail'))).toBe(503);
    expect(await settle(b.client.get('/fail'))).toBe(503);
    await waitFor(() => a.store.peek('global')?.counter === 2 && b.store.peek('global')?.counter === 2, { timeoutMs: 1_000 });
    expect(await settle(a.client.get('/fail'))).toBe(503);
    await waitFor(opened(b.breaker), { timeoutMs: 1_000 });
    expect(upstream.hits('/fail')).toBe(3);
  });

  it('lets one probe through across all processes', async () => {
    prefix = testPrefix('cb-probe');
    upstream.route('/slow', { status: 200, delayMs: 100 });
    const members = [member(), member(), member()];
    await waitFor(async () => (await subscribers()) === 3);
    for (const { client } of members) expect(await settle(client.get('/ok'))).toBe(200);
    for (let i = 0; i < 3; i++) await settle(members[0]!.client.get('/fail'));
    for (const { breaker } of members) await waitFor(opened(breaker), { timeoutMs: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 220));
    const outcomes = (await Promise.all(members.flatMap(({ client }) => Array.from({ length: 10 }, () => settle(client.get('/slow')))))).flat();
    expect(outcomes.filter((o) => o === 200)).toHaveLength(1);
    expect(outcomes.filter((o) => (o as { code?: string }).code === 'ERR_CIRCUIT_OPEN')).toHaveLength(29);
    expect(upstream.hits('/slow')).toBe(1);
    for (const { breaker } of members) await waitFor(() => breaker.state('global') === 'closed', { timeoutMs: 1_000 });
  });

  it('takes over the probe slot of a process that died mid-probe once its lease ran out', async () => {
    prefix = testPrefix('cb-lease');
    upstream.route('/hang', { action: 'hang' });
    const options = { probeLeaseMs: 300 };
    const a = member(options);
    const b = member(options);
    await waitFor(async () => (await subscribers()) === 2);
    expect(await settle(b.client.get('/ok'))).toBe(200);
    for (let i = 0; i < 3; i++) await settle(a.client.get('/fail'));
    await waitFor(opened(b.breaker), { timeoutMs: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 220));
    // a's probe hangs, and a goes away without ever reporting it.
    const dying = new AbortController();
    const lost = settle(a.client.get('/hang', { signal: dying.signal }));
    await waitFor(() => upstream.hits('/hang') === 1);
    await a.store.close();
    dying.abort();
    expect(await settle(b.client.get('/ok'))).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect(await settle(b.client.get('/ok'))).toBe(200);
    await waitFor(() => b.breaker.state('global') === 'closed', { timeoutMs: 1_000 });
    expect(upstream.hits('/ok')).toBe(2);
    await lost;
  });
});
