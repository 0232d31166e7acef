import { compose } from '@shallot/core';
import { createTestServer, settle, type TestServer, virtualClock } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type CircuitBreakerOpenError, type CircuitStateChange, circuitBreaker, isCircuitBreakerOpenError } from '@shallot/circuit-breaker';

let upstream: TestServer;
afterEach(async () => upstream?.close());

describe('circuitBreaker half-open', () => {
  it('lets exactly one probe through when 50 callers arrive at once', async () => {
    upstream = await createTestServer();
    upstream.route('/api', [{ status: 500 }, { status: 200, delayMs: 30 }]);
    const clock = virtualClock();
    const changes: CircuitStateChange[] = [];
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 1_000, key: 'global', onStateChange: (c) => changes.push(c) });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });

    expect(await settle(client.get('/api'))).toBe(500);
    expect(breaker.state('global')).toBe('open');
    await clock.advance(1_000);
    expect(breaker.state('global')).toBe('half-open');

    const outcomes = await Promise.all(Array.from({ length: 50 }, () => settle(client.get('/api'))));
    const passed = outcomes.filter((o) => o === 200);
    const refused = outcomes.filter(isCircuitBreakerOpenError) as CircuitBreakerOpenError[];
    expect(passed).toHaveLength(1);
    expect(refused).toHaveLength(49);
    expect(refused.every((e) => e.state === 'half-open' && e.retryAfterMs === 0)).toBe(true);
    expect(upstream.hits('/api')).toBe(2);
    expect(breaker.state('global')).toBe('closed');
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('lets halfOpenMaxProbes probes through at once', async () => {
    upstream = await createTestServer();
    upstream.route('/api', [{ status: 500 }, { status: 200, delayMs: 30 }]);
    const clock = virtualClock();
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 1_000, halfOpenMaxProbes: 3, successThreshold: 3, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });
    await settle(client.get('/api'));
    await clock.advance(1_000);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => settle(client.get('/api'))));
    expect(outcomes.filter((o) => o === 200)).toHaveLength(3);
    expect(outcomes.filter(isCircuitBreakerOpenError)).toHaveLength(17);
    expect(upstream.hits('/api')).toBe(4);
    expect(breaker.state('global')).toBe('closed');
  });

  it('closes only after successThreshold probe successes', async () => {
    upstream = await createTestServer();
    upstream.route('/api', [{ status: 503 }, { status: 200 }]);
    const clock = virtualClock();
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 500, successThreshold: 3, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });
    await settle(client.get('/api'));
    await clock.advance(500);
    expect(await settle(client.get('/api'))).toBe(200);
    expect(breaker.state('global')).toBe('half-open');
    expect(await settle(client.get('/api'))).toBe(200);
    expect(breaker.state('global')).toBe('half-open');
    expect(await settle(client.get('/api'))).toBe(200);
    expect(breaker.state('global')).toBe('closed');
    expect(upstream.hits('/api')).toBe(4);
  });

  it('re-opens when a probe fails, for longer each time with recoveryBackoff', async () => {
    upstream = await createTestServer();
    upstream.route('/api', { status: 500 });
    const clock = virtualClock();
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 100, recoveryBackoff: { factor: 2, maxMs: 300 }, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });
    const waits: number[] = [];
    await settle(client.get('/api'));
    for (let i = 0; i < 4; i++) {
      const refused = (await settle(client.get('/api'))) as CircuitBreakerOpenError;
      expect(isCircuitBreakerOpenError(refused)).toBe(true);
      waits.push(refused.retryAfterMs);
      await clock.advance(refused.retryAfterMs);
      expect(await settle(client.get('/api'))).toBe(500);
    }
    expect(waits).toEqual([100, 200, 300, 300]);
    expect(upstream.hits('/api')).toBe(5);
  });

  it('frees the probe slot when the caller aborts the probe', async () => {
    upstream = await createTestServer();
    upstream.route('/api', [{ status: 500 }, { status: 200, delayMs: 300 }, { status: 200 }]);
    const clock = virtualClock();
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 100, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });
    await settle(client.get('/api'));
    await clock.advance(100);
    const controller = new AbortController();
    const probe = client.get('/api', { signal: controller.signal });
    // The slot is taken while the probe is in flight...
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isCircuitBreakerOpenError(await settle(client.get('/api')))).toBe(true);
    controller.abort();
    await expect(probe).rejects.toThrow();
    // ...and free again once the caller gave up on it.
    expect(breaker.state('global')).toBe('half-open');
    expect(await settle(client.get('/api'))).toBe(200);
    expect(breaker.state('global')).toBe('closed');
  });
  it('writes off a probe whose lease ran out, so a hung probe cannot wedge the circuit half-open', async () => {
    upstream = await createTestServer();
    upstream.route('/api', [{ status: 500 }, { status: 200, delayMs: 300 }, { status: 200 }]);
    const clock = virtualClock();
    const breaker = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 100, probeLeaseMs: 1_000, key: 'global' });
    await using client = compose().use(breaker).build({ baseUrl: upstream.url, clock });
    await settle(client.get('/api'));
    await clock.advance(100);
    const hung = settle(client.get('/api'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The lease holds the slot...
    expect(isCircuitBreakerOpenError(await settle(client.get('/api')))).toBe(true);
    await clock.advance(999);
    expect(isCircuitBreakerOpenError(await settle(client.get('/api')))).toBe(true);
    // ...until it runs out: the next call probes in its place and closes the circuit.
    await clock.advance(1);
    expect(await settle(client.get('/api'))).toBe(200);
    expect(breaker.state('global')).toBe('closed');
    // The written-off probe's late success counts for nothing.
    expect(await hung).toBe(200);
    expect(breaker.state('global')).toBe('closed');
    expect(upstream.hits('/api')).toBe(3);
  });
});
