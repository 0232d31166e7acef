import { ConnectionManager } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { hostOf, transports } from './helpers.js';

describe.each(transports)('getStats over %s', (transport) => {
  it('counts requests made (the original always said 0), errors, status codes and latency per host', async () => {
    await using a = await createTestServer();
    await using b = await createTestServer();
    a.route('/ok', { body: 'ok' });
    a.route('/missing', { status: 404 });
    b.route('/reset', { action: 'reset' });
    await using manager = new ConnectionManager({ transport, maxRetries: 1, backoffFactorMs: 1 });
    expect(manager.getStats().requestsMade).toBe(0);
    for (let i = 0; i < 3; i++) await (await manager.get(`${a.url}/ok`)).text();
    await (await manager.get(`${a.url}/missing`)).text();
    await manager.get(`${b.url}/reset`).catch(() => {});
    const stats = manager.getStats();
    expect([stats.requestsMade, stats.errors, stats.errorRate, stats.inFlight]).toEqual([5, 1, 0.2, 0]);
    expect(stats.hosts[hostOf(a)]).toMatchObject({ requests: 4, errors: 0, attempts: 4, statusCodes: { '200': 3, '404': 1 } });
    expect(stats.hosts[hostOf(b)]).toMatchObject({ requests: 1, errors: 1, attempts: 2, errorTypes: { MaxRetriesExceededError: 1 } });
    expect(stats.latencyMs.count).toBe(4);
    expect(stats.latencyMs.p95).toBeGreaterThan(0);
    expect(stats.circuitBreakers[hostOf(a)]).toEqual({ endpoint: '(default)', state: 'closed' });
    expect(stats.rateLimits['(default)']).toEqual({ limit: 100, intervalMs: 60_000, currentLimit: 100, mode: 'wait' });
    expect(stats.pool).toMatchObject({ origins: 2, pending: 0 });
    expect(stats.endpoints).toEqual([]);
  });
});

describe('getStats', () => {
  it('reports every endpoint’s limiter and circuits, and the hooks', async () => {
    await using server = await createTestServer();
    server.route('/x', { body: 'ok' });
    server.route('/v2/x', { status: 500 });
    const prefix = `${server.url}/v2/`;
    await using manager = new ConnectionManager({
      maxRetries: 0,
      endpointConfigs: { [hostOf(server)]: { rateLimitRequests: 7, rateLimitPeriodMs: 1_000 }, [prefix]: { circuitBreakerFailureThreshold: 1, rateLimitRequests: null } },
    });
    manager.registerPreRequestHook(function tagRequests() {});
    await manager.get(`${server.url}/x`);
    await manager.get(`${server.url}/v2/x`);
    const stats = manager.getStats();
    expect(stats.endpoints).toEqual([hostOf(server), prefix]);
    expect(stats.rateLimits).toEqual({
      '(default)': { limit: 100, intervalMs: 60_000, currentLimit: 100, mode: 'wait' },
      [hostOf(server)]: { limit: 7, intervalMs: 1_000, currentLimit: 7, mode: 'wait' },
    });
    // A URL-prefix endpoint is one service: one circuit, named after the prefix.
    expect(stats.circuitBreakers).toEqual({ [hostOf(server)]: { endpoint: hostOf(server), state: 'closed' }, [prefix]: { endpoint: prefix, state: 'open' } });
    expect(stats.hooks.preRequest).toEqual(['tagRequests']);
  });
});
