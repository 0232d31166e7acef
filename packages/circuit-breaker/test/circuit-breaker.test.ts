import { compose, type HttpError, isHttpError, isInvalidOptionsError, isNetworkError, isTimeoutError } from '@shallot/core';
import { timeout } from '@shallot/timeout';
import { createTestServer, failTimes, settle, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CircuitStateChange,
  circuitBreaker,
  type CircuitBreakerOpenError,
  hostKey,
  isCircuitBreakerOpenError,
} from '@shallot/circuit-breaker';

const servers: TestServer[] = [];
async function server(): Promise<TestServer> {
  const s = await createTestServer();
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const keyOf = (s: TestServer): string => hostKey(new URL(s.url));

describe('circuitBreaker', () => {
  it('opens after exactly failureThreshold 5xx responses and then makes no network call', async () => {
    const upstream = await server();
    upstream.route('/down', { status: 503 });
    const breaker = circuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 60_000 });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });

    expect(await settle(client.get('/down'))).toBe(503);
    expect(await settle(client.get('/down'))).toBe(503);
    expect(breaker.state(keyOf(upstream))).toBe('closed');
    expect(await settle(client.get('/down'))).toBe(503);
    expect(breaker.state(keyOf(upstream))).toBe('open');
    expect(upstream.hits('/down')).toBe(3);

    for (let i = 0; i < 5; i++) {
      const error = (await settle(client.get('/down'))) as CircuitBreakerOpenError;
      expect(isCircuitBreakerOpenError(error)).toBe(true);
      expect(error.code).toBe('ERR_CIRCUIT_OPEN');
      expect(error.key).toBe(keyOf(upstream));
      expect(error.retryAfterMs).toBeGreaterThan(50_000);
      expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
      expect(error.message).toContain(`GET ${upstream.url}/down`);
    }
    expect(upstream.hits('/down')).toBe(3);
  });

  it('keeps one circuit per host: a failing host leaves the others alone', async () => {
    const failing = await server();
    const healthy = await server();
    failing.route('/x', { status: 500 });
    healthy.route('/x', { json: { ok: true } });
    const breaker = circuitBreaker({ failureThreshold: 2 });
    await using client = compose().use(breaker).build();

    await settle(client.get(`${failing.url}/x`));
    await settle(client.get(`${failing.url}/x`));
    expect(isCircuitBreakerOpenError(await settle(client.get(`${failing.url}/x`)))).toBe(true);
    for (let i = 0; i < 3; i++) expect(await settle(client.get(`${healthy.url}/x`))).toBe(200);
    expect(breaker.state(keyOf(failing))).toBe('open');
    expect(breaker.state(keyOf(healthy))).toBe('closed');
    expect(failing.hits('/x')).toBe(2);
    expect(healthy.hits('/x')).toBe(3);
  });

  it('never counts 4xx responses', async () => {
    const upstream = await server();
    upstream.route('/missing', { status: 404 }).route('/limited', { status: 429 });
    const breaker = circuitBreaker({ failureThreshold: 2 });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    for (let i = 0; i < 5; i++) {
      expect(await settle(client.get('/missing'))).toBe(404);
      expect(await settle(client.get('/limited'))).toBe(429);
    }
    expect(breaker.state(keyOf(upstream))).toBe('closed');
    expect(upstream.hits()).toBe(10);
  });

  it('counts consecutive failures only: a success in between starts the count again', async () => {
    const upstream = await server();
    upstream.route('/flaky', [{ status: 502, times: 2 }, { status: 200 }, { status: 502, times: 2 }, { status: 200 }]);
    const breaker = circuitBreaker({ failureThreshold: 3 });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(await settle(client.get('/flaky')));
    expect(statuses).toEqual([502, 502, 200, 502, 502, 200]);
    expect(breaker.state(keyOf(upstream))).toBe('closed');
  });

  it('counts network errors and timeouts as failures', async () => {
    const upstream = await server();
    upstream.route('/reset', { action: 'reset' }).route('/slow', { delayMs: 300, status: 200 });
    const breaker = circuitBreaker({ failureThreshold: 2, key: 'global' });
    await using client = compose().use(breaker).use(timeout({ attemptMs: 30 })).build({ baseUrl: upstream.url });

    const changes: unknown[] = [];
    breaker.onStateChange((change) => changes.push(change.error));
    expect(isNetworkError(await settle(client.get('/reset')))).toBe(true);
    expect(isTimeoutError(await settle(client.get('/slow')))).toBe(true);
    expect(breaker.state('global')).toBe('open');
    expect(changes).toHaveLength(1);
    expect(isTimeoutError(changes[0])).toBe(true);
    expect(isCircuitBreakerOpenError(await settle(client.get('/slow')))).toBe(true);
    expect(upstream.hits('/slow')).toBe(1);
  });

  it('does not count a request the caller aborted', async () => {
    const upstream = await server();
    upstream.route('/slow', { delayMs: 200, status: 200 });
    const breaker = circuitBreaker({ failureThreshold: 1, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    const controller = new AbortController();
    const pending = client.get('/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toThrow();
    expect(breaker.state('global')).toBe('closed');
  });

  it('lets isFailure decide what counts', async () => {
    const upstream = await server();
    upstream.route('/gone', { status: 410 }).route('/down', { status: 503 });
    const breaker = circuitBreaker({
      failureThreshold: 2,
      key: 'global',
      isFailure: (_ctx, outcome) => outcome.response?.status === 410,
    });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    for (let i = 0; i < 4; i++) await settle(client.get('/down'));
    expect(breaker.state('global')).toBe('closed');
    await settle(client.get('/gone'));
    await settle(client.get('/gone'));
    expect(breaker.state('global')).toBe('open');
  });

  it('keys by a function of the request', async () => {
    const upstream = await server();
    upstream.route('/a', { status: 500 }).route('/b', { status: 200 });
    const breaker = circuitBreaker({ failureThreshold: 1, key: (ctx) => ctx.request.url.pathname });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    await settle(client.get('/a'));
    expect(isCircuitBreakerOpenError(await settle(client.get('/a')))).toBe(true);
    expect(await settle(client.get('/b'))).toBe(200);
    expect(breaker.state('/a')).toBe('open');
    expect(breaker.state('/b')).toBe('closed');
  });

  it('sets ctx.circuitBreaker', async () => {
    const upstream = await server();
    upstream.route('/down', { status: 500 });
    await using client = compose().use(circuitBreaker({ failureThreshold: 1, key: 'global' })).build({ baseUrl: upstream.url });
    const { response, context } = await client.exchange('GET', '/down');
    await response.arrayBuffer();
    expect(context.circuitBreaker).toEqual({ key: 'global', state: 'open' });
  });

  it('opens on a failure rate with policy: sampling', async () => {
    const upstream = await server();
    upstream.route('/mixed', [{ status: 200 }, { status: 500, times: 2 }, { status: 200 }]);
    const breaker = circuitBreaker({
      policy: 'sampling',
      failureRateThreshold: 0.5,
      samplingDurationMs: 5_000,
      minimumRps: 0.5,
      key: 'global',
    });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    expect(await settle(client.get('/mixed'))).toBe(200);
    expect(await settle(client.get('/mixed'))).toBe(500);
    expect(breaker.state('global')).toBe('closed');
    expect(await settle(client.get('/mixed'))).toBe(500);
    expect(breaker.state('global')).toBe('open');
    expect(isCircuitBreakerOpenError(await settle(client.get('/mixed')))).toBe(true);
    expect(upstream.hits('/mixed')).toBe(3);
  });

  it('reports changes through onStateChange with the status or error that caused them', async () => {
    const upstream = await server();
    upstream.route('/down', { status: 503 });
    const fromOption: CircuitStateChange[] = [];
    const fromMethod: CircuitStateChange[] = [];
    const breaker = circuitBreaker({ failureThreshold: 1, onStateChange: (c) => fromOption.push(c) });
    const subscription = breaker.onStateChange((c) => fromMethod.push(c));
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    await settle(client.get('/down'));
    expect(fromOption).toMatchObject([{ key: keyOf(upstream), from: 'closed', to: 'open', status: 503 }]);
    expect(isHttpError(fromOption[0]?.error)).toBe(true);
    expect((fromOption[0]?.error as HttpError).status).toBe(503);
    expect(fromMethod).toEqual(fromOption);
    subscription.dispose();
    await breaker.reset(keyOf(upstream));
    expect(fromOption.map((c) => c.to)).toEqual(['open', 'closed']);
    expect(fromMethod).toHaveLength(1);
  });

  it('isolate(key) holds the circuit open without network calls until reset(key)', async () => {
    const upstream = await server();
    upstream.route('/ok', { status: 200 });
    const breaker = circuitBreaker();
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    await breaker.isolate(keyOf(upstream));
    const error = (await settle(client.get('/ok'))) as CircuitBreakerOpenError;
    expect(isCircuitBreakerOpenError(error)).toBe(true);
    expect(error.state).toBe('isolated');
    expect(error.retryAfterMs).toBe(Infinity);
    expect(upstream.hits('/ok')).toBe(0);
    await breaker.reset(keyOf(upstream));
    expect(await settle(client.get('/ok'))).toBe(200);
    expect(upstream.hits('/ok')).toBe(1);
  });

  it('snapshot() and hydrate() carry open circuits to another breaker, through JSON', async () => {
    const upstream = await server();
    upstream.route('/down', { status: 500 });
    const first = circuitBreaker({ failureThreshold: 1 });
    await using a = compose().use(first).build({ baseUrl: upstream.url });
    await settle(a.get('/down'));
    const saved = JSON.parse(JSON.stringify(first.snapshot()));

    const second = circuitBreaker({ failureThreshold: 1 });
    await second.hydrate(saved);
    expect(second.state(keyOf(upstream))).toBe('open');
    await using b = compose().use(second).build({ baseUrl: upstream.url });
    expect(isCircuitBreakerOpenError(await settle(b.get('/down')))).toBe(true);
    expect(upstream.hits('/down')).toBe(1);
  });

  it('hydrate() rejects a malformed snapshot with a message naming the problem', async () => {
    const breaker = circuitBreaker();
    await expect(breaker.hydrate({ version: 1, takenAt: 0, circuits: { x: { state: 'ajar' } } } as never)).rejects.toThrow(/circuitBreaker\.hydrate\.circuits\.x\.state/);
  });

  it('forgets the least recently used circuits beyond maxKeys', async () => {
    const upstream = await server();
    upstream.route('*', { status: 500 });
    const breaker = circuitBreaker({ failureThreshold: 1, maxKeys: 2, key: (ctx) => ctx.request.url.pathname });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    for (const path of ['/a', '/b', '/c']) await settle(client.get(path));
    expect(breaker.state('/a')).toBe('closed');
    expect(breaker.state('/b')).toBe('open');
    expect(breaker.state('/c')).toBe('open');
    expect(Object.keys(breaker.snapshot().circuits)).toEqual(['/b', '/c']);
  });

  it('closes again after the upstream recovers (failTimes)', async () => {
    const upstream = await server();
    upstream.route('/flaky', failTimes(2));
    const breaker = circuitBreaker({ failureThreshold: 2, recoveryTimeoutMs: 40, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url });
    await settle(client.get('/flaky'));
    await settle(client.get('/flaky'));
    expect(isCircuitBreakerOpenError(await settle(client.get('/flaky')))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(breaker.state('global')).toBe('half-open');
    expect(await settle(client.get('/flaky'))).toBe(200);
    expect(breaker.state('global')).toBe('closed');
    expect(upstream.hits('/flaky')).toBe(3);
  });

  it('rejects bad options with InvalidOptionsError naming the option', () => {
    const cases: [unknown, RegExp][] = [
      [{ failureThreshold: 0 }, /circuitBreaker\.failureThreshold: expected a number >= 1, got 0/],
      [{ policy: 'sampling', failureRateThreshold: 1.5 }, /circuitBreaker\.failureRateThreshold/],
      [{ failureRateThreshold: 0.5 }, /circuitBreaker\.failureRateThreshold: only applies to policy: 'sampling'/],
      [{ key: 'path' }, /circuitBreaker\.key/],
      [{ recoveryTimeout: 5 }, /unknown option 'recoveryTimeout'/],
    ];
    for (const [options, message] of cases) {
      let thrown: unknown;
      try {
        circuitBreaker(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(isInvalidOptionsError(thrown), String(message)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    }
  });

  it('describes itself', async () => {
    const client = compose().use(circuitBreaker({ failureThreshold: 3 })).build();
    const [layer] = client.describe();
    expect(layer).toMatchObject({ name: 'circuitBreaker', options: { failureThreshold: 3, recoveryTimeoutMs: 60_000, store: 'memory' } });
    await client.close();
  });
});
