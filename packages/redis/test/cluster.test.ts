// The three stores on a Redis Cluster of three primaries started by the test (cluster mode
// needs servers of its own): keys hash-tagged per key, scripts on one slot, circuit changes
// heard through the cluster's pub/sub, clear() on every primary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cache } from '@shallot/cache';
import { circuitBreaker } from '@shallot/circuit-breaker';
import { compose } from '@shallot/core';
import { isRateLimitExceededError, rateLimit } from '@shallot/rate-limit';
import { redisCacheStore, redisCircuitBreakerStore, redisRateLimitStore } from '@shallot/redis';
import { createTestServer, settle, type TestServer, waitFor } from '@shallot/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithRedisServer, OwnRedisServer, testPrefix } from './support.js';

describeWithRedisServer('Redis stores on a Redis Cluster', () => {
  const nodes: OwnRedisServer[] = [];
  const dirs: string[] = [];
  let upstream: TestServer;

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'shallot-cluster-'));
      dirs.push(dir);
      nodes.push(await OwnRedisServer.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'], dir));
    }
    // Three primaries, a third of the slots each, introduced to each other.
    const admins = nodes.map((node) => new Redis(node.url));
    try {
      const share = Math.ceil(16_384 / 3);
      await Promise.all(admins.map((admin, i) => admin.call('CLUSTER', 'ADDSLOTSRANGE', String(i * share), String(Math.min(16_383, (i + 1) * share - 1)))));
      for (const node of nodes.slice(1)) await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(node.port));
      await waitFor(async () => (await Promise.all(admins.map((a) => a.call('CLUSTER', 'INFO')))).every((info) => String(info).includes('cluster_state:ok')), {
        timeoutMs: 10_000,
        intervalMs: 50,
      });
    } finally {
      for (const admin of admins) admin.disconnect();
    }
    upstream = await createTestServer();
  }, 20_000);
  afterAll(async () => {
    await upstream?.close();
    for (const node of nodes) await node.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('shares limits, circuits and cached responses between two cluster clients', async () => {
    const keyPrefix = testPrefix('cluster');
    upstream.route('/doc', { status: 200, headers: { 'cache-control': 'max-age=60' }, body: 'doc' });
    upstream.route('/ok', { status: 200 });
    upstream.route('/down', { status: 503 });
    const clusters = [0, 1].map(() => new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]));
    const members = clusters.map((client) => {
      const stores = {
        limiter: redisRateLimitStore({ client, keyPrefix, timeoutMs: 2_000 }),
        breaker: redisCircuitBreakerStore({ client, keyPrefix, timeoutMs: 2_000 }),
        cache: redisCacheStore({ client, keyPrefix, timeoutMs: 2_000 }),
      };
      const breaker = circuitBreaker({ key: (ctx) => ctx.request.url.pathname, failureThreshold: 2, store: stores.breaker });
      const http = compose()
        .use(cache({ store: stores.cache, shared: true }))
        .use(rateLimit({ limit: 8, intervalMs: 60_000, mode: 'reject', key: 'host', store: stores.limiter }))
        .use(breaker)
        .build({ baseUrl: upstream.url });
      return { stores, breaker, http };
    });
    const [a, b] = members as [(typeof members)[0], (typeof members)[0]];
    try {
      // A response a stored is a hit for b.
      expect((await a.http.get('/doc')).headers.get('x-cache')).toBe('MISS');
      expect((await b.http.get('/doc')).headers.get('x-cache')).toBe('HIT');
      // A circuit a opened is open for b (b knows the circuit: it used it once).
      expect(await settle(b.http.get('/down'))).toBe(503);
      expect(await settle(a.http.get('/down'))).toBe(503);
      await waitFor(() => a.breaker.state('/down') === 'open' && b.breaker.state('/down') === 'open', { timeoutMs: 2_000 });
      expect(await settle(b.http.get('/down'))).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
      // One bucket of 8 for both: /doc, /down twice and the refused call's refund leave 5 (the hit sent nothing).
      const outcomes = [];
      for (let i = 0; i < 6; i++) outcomes.push(await settle((i % 2 === 0 ? a : b).http.get('/ok')));
      expect(outcomes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(isRateLimitExceededError(outcomes[5])).toBe(true);
      // Every key is hash-tagged, and clear() finds the cache's on whichever primary holds them.
      const keys = (await Promise.all(clusters[0]!.nodes('master').map((node) => node.keys(`*${keyPrefix}*`)))).flat();
      expect(keys.length).toBeGreaterThanOrEqual(4);
      expect(keys.every((key) => key.startsWith(`{${keyPrefix}`) && key.includes('}'))).toBe(true);
      await a.stores.cache.clear();
      const left = (await Promise.all(clusters[0]!.nodes('master').map((node) => node.keys(`*${keyPrefix}cache:*`)))).flat();
      expect(left).toEqual([]);
      expect([...members.flatMap((m) => Object.values(m.stores))].every((store) => store.stats().errors === 0)).toBe(true);
    } finally {
      for (const member of members) {
        await member.http.close();
        for (const store of Object.values(member.stores)) await store.close();
      }
      for (const cluster of clusters) cluster.disconnect();
    }
  });
});
