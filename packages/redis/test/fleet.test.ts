// Four separate Node.js processes, each with its own shallot client and its own Redis
// connections, sharing a rate limit, circuits and a cache through Redis.
import { createTestServer, type TestServer, waitFor } from '@shallot/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { describeWithRedis, FleetWorker, type Outcome, redisUrl, removeKeys, testPrefix, type WorkerConfig } from './support.js';

describeWithRedis('a fleet of four processes', { timeout: 30_000 }, () => {
  let redis: Redis;
  let upstream: TestServer;
  let prefix: string;
  let fleet: FleetWorker[] = [];

  const startFleet = async (config: Omit<WorkerConfig, 'redisUrl' | 'keyPrefix' | 'baseUrl'>): Promise<FleetWorker[]> => {
    fleet = await Promise.all(Array.from({ length: 4 }, () => FleetWorker.start({ redisUrl, keyPrefix: prefix, baseUrl: upstream.url, ...config })));
    return fleet;
  };
  const subscribers = async (): Promise<number> => Number(((await redis.pubsub('NUMSUB', `${prefix}cb`)) as [string, number])[1]);

  beforeAll(async () => {
    redis = new Redis(redisUrl);
    upstream = await createTestServer();
  });
  afterAll(async () => {
    await upstream.close();
    redis.disconnect();
  });
  afterEach(async () => {
    await Promise.all(fleet.map((worker) => worker.close()));
    fleet = [];
    await removeKeys(redis, prefix);
    upstream.reset();
  });

  it('sends 150 ± 5 requests in 3 s under a shared limit of 50 per second', async () => {
    prefix = testPrefix('fleet-limit');
    upstream.route('/limited', { status: 200 });
    const workers = await startFleet({ rateLimit: { limit: 50, intervalMs: 1_000, burst: 1, key: 'global' } });
    const startAt = Date.now() + 300;
    const untilMs = startAt + 3_000;
    // Eight requests at a time per process: tokens stay reserved ahead, so a process the machine
    // starves for a moment loses no slot. Each request's deadline is the end of the 3 s.
    const results = await Promise.all(workers.map((w) => w.ask<{ sent: number; refused: number }>('loop', { path: '/limited', startAt, untilMs, lanes: 8 })));
    // Counted where they arrive (a request cut off by its deadline after it was sent still counts).
    const arrived = upstream.hits('/limited');
    expect(arrived).toBeGreaterThanOrEqual(145);
    expect(arrived).toBeLessThanOrEqual(155);
    // Every process had its share: the bucket is one, first come first served.
    expect(results.every((r) => r.sent > 10)).toBe(true);
  });

  it('opens the circuit in all four within 100 ms of one of them opening it, then lets one probe through fleet-wide', async () => {
    prefix = testPrefix('fleet-breaker');
    upstream.route('/ok', { status: 200 });
    upstream.route('/fail', { status: 503 });
    // The probe takes long enough for every process's burst to arrive while it is in flight,
    // however slowly a loaded machine delivers them.
    upstream.route('/probe', { status: 200, delayMs: 1_000 });
    const workers = await startFleet({ breaker: { key: 'global', failureThreshold: 3, recoveryTimeoutMs: 500 } });
    await waitFor(async () => (await subscribers()) === 4);
    for (const worker of workers) expect(await worker.ask<Outcome>('get', { path: '/ok' })).toMatchObject({ status: 200 });

    const [first, ...others] = workers as [FleetWorker, ...FleetWorker[]];
    for (let i = 0; i < 3; i++) expect(await first.ask<Outcome>('get', { path: '/fail' })).toMatchObject({ status: 503 });
    await waitFor(() => workers.every((w) => w.events.some((e) => e.to === 'open')), { timeoutMs: 2_000 });
    const openedAt = first.events.find((e) => e.to === 'open')!.at;
    for (const worker of others) {
      const heardAt = worker.events.find((e) => e.to === 'open')!.at;
      expect(heardAt - openedAt).toBeLessThanOrEqual(100);
      expect(await worker.ask<Outcome>('get', { path: '/ok' })).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    }
    expect(upstream.hits('/ok')).toBe(4);

    // Past the recovery timeout, ten calls at once from each process: one probe in all.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, openedAt + 520 - Date.now())));
    const bursts = await Promise.all(workers.map((w) => w.ask<Outcome[]>('burst', { path: '/probe', n: 10 })));
    const outcomes = bursts.flat();
    expect(outcomes.filter((o) => o.status === 200)).toHaveLength(1);
    expect(outcomes.filter((o) => o.code === 'ERR_CIRCUIT_OPEN')).toHaveLength(39);
    expect(upstream.hits('/probe')).toBe(1);
    await waitFor(async () => (await Promise.all(workers.map((w) => w.ask<string>('state', { key: 'global' })))).every((s) => s === 'closed'), {
      timeoutMs: 2_000,
    });
  });

  it('does not wedge the circuit half-open when the process running the probe dies', async () => {
    prefix = testPrefix('fleet-lease');
    upstream.route('/ok', { status: 200 });
    upstream.route('/fail', { status: 503 });
    upstream.route('/hang', { action: 'hang' });
    const workers = await startFleet({ breaker: { key: 'global', failureThreshold: 1, recoveryTimeoutMs: 200, probeLeaseMs: 500 } });
    await waitFor(async () => (await subscribers()) === 4);
    for (const worker of workers) await worker.ask('get', { path: '/ok' });
    const [doomed, survivor] = workers as [FleetWorker, FleetWorker];
    expect(await doomed.ask<Outcome>('get', { path: '/fail' })).toMatchObject({ status: 503 });
    await waitFor(() => workers.every((w) => w.events.some((e) => e.to === 'open')), { timeoutMs: 2_000 });
    await new Promise((resolve) => setTimeout(resolve, 220));
    void doomed.ask('get', { path: '/hang' });
    await waitFor(() => upstream.hits('/hang') === 1);
    await doomed.kill();
    expect(await survivor.ask<Outcome>('get', { path: '/ok' })).toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
    await new Promise((resolve) => setTimeout(resolve, 520));
    expect(await survivor.ask<Outcome>('get', { path: '/ok' })).toMatchObject({ status: 200 });
    expect(upstream.hits('/ok')).toBe(5);
  });

  it('serves a response one process stored as a HIT in another', async () => {
    prefix = testPrefix('fleet-cache');
    upstream.route('/catalog', { status: 200, headers: { 'cache-control': 'max-age=60' }, json: { items: [1, 2, 3] } });
    const [a, b, c, d] = (await startFleet({ cache: true })) as [FleetWorker, FleetWorker, FleetWorker, FleetWorker];
    expect(await a.ask<Outcome>('get', { path: '/catalog' })).toMatchObject({ status: 200, xCache: 'MISS' });
    for (const worker of [b, c, d]) expect(await worker.ask<Outcome>('get', { path: '/catalog' })).toMatchObject({ status: 200, xCache: 'HIT' });
    expect(upstream.hits('/catalog')).toBe(1);
  });
});
