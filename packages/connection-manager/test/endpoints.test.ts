import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import {
  CircuitBreakerOpenError,
  ConnectionManager,
  type EndpointCircuitStateChange,
  isCircuitBreakerOpenError,
  isRateLimitExceededError,
  isTimeoutError,
  RateLimitExceededError,
  type TimeoutError,
} from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { hostOf, rejection, transports } from './helpers.js';

/** A TCP server that accepts connections and never says a word: a TLS handshake to it never completes. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.each(transports)('per-endpoint settings over %s', (transport) => {
  it('connectTimeoutMs takes effect (the original ignored it), per endpoint too', async () => {
    const silent = await silentServer();
    try {
      await using manager = new ConnectionManager({ transport, maxRetries: 0, connectTimeoutMs: 10_000, endpointConfigs: { [`127.0.0.1:${silent.port}`]: { connectTimeoutMs: 50 } } });
      const error = await rejection(manager.get(`https://127.0.0.1:${silent.port}/`));
      expect(isTimeoutError(error)).toBe(true);
      expect((error as TimeoutError).kind).toBe('connect');
    } finally {
      await silent.close();
    }
  });

  it('readTimeoutMs takes effect (the original ignored it), and setTimeouts() changes it for the next request', async () => {
    await using server = await createTestServer();
    server.route('/slow', { delayMs: 300, body: 'late' });
    await using manager = new ConnectionManager({ transport, maxRetries: 0 });
    manager.setTimeouts({ readMs: 40 });
    const error = await rejection(manager.get(`${server.url}/slow`));
    expect(isTimeoutError(error) && (error as TimeoutError).kind).toBe('read');
    manager.setTimeouts({ readMs: 5_000 });
    expect(await (await manager.get(`${server.url}/slow`)).text()).toBe('late');
  });

  it('timeoutMs bounds the whole call, retries and waits included', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    server.route('/slow', { delayMs: 300, body: 'late' });
    await using manager = new ConnectionManager({ transport, maxRetries: 5, backoffFactorMs: 100, endpointConfigs: { [hostOf(server)]: { timeoutMs: 300 } } });
    const error = await rejection(manager.get(`${server.url}/slow`));
    expect(isTimeoutError(error) && (error as TimeoutError).kind).toBe('total');
    // Waits of 100 then 200 ms: the second would end past the deadline, so retrying stops there,
    // with four of its five retries unmade.
    const { response, context } = await manager.client.exchange('GET', `${server.url}/down`);
    expect(response.status).toBe(503);
    expect(context.retry?.exhausted).toBe(true);
    expect(server.hits('/down')).toBeLessThanOrEqual(2);
  });
});

describe('per-endpoint retries and timeouts', () => {
  it('maxRetries, backoffFactorMs and readTimeoutMs in an endpoint config take effect (the original ignored them)', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    server.route('/slow', { delayMs: 300, body: 'late' });
    await using manager = new ConnectionManager({
      maxRetries: 0,
      circuitBreakerFailureThreshold: null,
      endpointConfigs: { [hostOf(server)]: { maxRetries: 2, backoffFactorMs: 3, readTimeoutMs: 40 } },
    });
    const { context } = await manager.client.exchange('GET', `${server.url}/down`);
    expect(server.hits('/down')).toBe(3);
    expect(context.retry?.delaysMs).toEqual([3, 6]);
    const error = await rejection(manager.get(`${server.url}/slow`));
    // Read timeouts are retried: the endpoint's three attempts each timed out reading.
    expect(error).toMatchObject({ code: 'ERR_MAX_RETRIES', attempts: 3, cause: { code: 'ERR_TIMEOUT', kind: 'read' } });
  });
});

describe('per-endpoint breakers', () => {
  it('one failing host opens its own circuit; other hosts are still served (the original shared one breaker)', async () => {
    await using failing = await createTestServer();
    await using healthy = await createTestServer();
    failing.route('/x', { status: 500 });
    healthy.route('/x', { body: 'fine' });
    await using manager = new ConnectionManager({ maxRetries: 0, circuitBreakerFailureThreshold: 3 });
    for (let i = 0; i < 3; i++) expect((await manager.get(`${failing.url}/x`)).status).toBe(500);
    const error = await rejection(manager.get(`${failing.url}/x`));
    expect(error).toBeInstanceOf(CircuitBreakerOpenError);
    expect(failing.hits('/x')).toBe(3);
    expect(await (await manager.get(`${healthy.url}/x`)).text()).toBe('fine');
    expect(manager.getStats().circuitBreakers).toEqual({
      [hostOf(failing)]: { endpoint: '(default)', state: 'open' },
      [hostOf(healthy)]: { endpoint: '(default)', state: 'closed' },
    });
  });

  it('an endpoint’s threshold and recovery time are its own; state changes are reported with the endpoint', async () => {
    await using primary = await createTestServer();
    primary.route('/x', [{ status: 500, times: 2 }, { body: 'recovered' }]);
    await using manager = new ConnectionManager({ maxRetries: 0, endpointConfigs: { [hostOf(primary)]: { circuitBreakerFailureThreshold: 2, circuitBreakerRecoveryTimeoutMs: 30 } } });
    const changes: EndpointCircuitStateChange[] = [];
    const subscription = manager.onCircuitBreakerStateChange((change) => changes.push(change));
    await manager.get(`${primary.url}/x`);
    await manager.get(`${primary.url}/x`);
    expect(isCircuitBreakerOpenError(await rejection(manager.get(`${primary.url}/x`)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(await (await manager.get(`${primary.url}/x`)).text()).toBe('recovered');
    expect(changes.map((c) => [c.endpoint, c.key, c.from, c.to])).toEqual([
      [hostOf(primary), hostOf(primary), 'closed', 'open'],
      [hostOf(primary), hostOf(primary), 'open', 'half-open'],
      [hostOf(primary), hostOf(primary), 'half-open', 'closed'],
    ]);
    subscription.dispose();
  });

  it('a circuit’s state survives setTimeouts() and other settings changes that do not touch the breaker', async () => {
    await using server = await createTestServer();
    server.route('/x', { status: 500 });
    await using manager = new ConnectionManager({ maxRetries: 0, circuitBreakerFailureThreshold: 1 });
    await manager.get(`${server.url}/x`);
    manager.setTimeouts({ connectMs: 1_000, readMs: 1_000 });
    expect(isCircuitBreakerOpenError(await rejection(manager.get(`${server.url}/x`)))).toBe(true);
    expect(server.hits('/x')).toBe(1);
  });
});

describe('per-endpoint rate limits', () => {
  it('an endpoint’s limit is enforced (the original made a new limiter per call) and raises RateLimitExceededError', async () => {
    await using limited = await createTestServer();
    await using other = await createTestServer();
    limited.route('/x', { body: 'ok' });
    other.route('/x', { body: 'ok' });
    await using manager = new ConnectionManager({ endpointConfigs: { [hostOf(limited)]: { rateLimitRequests: 2, rateLimitPeriodMs: 60_000, rateLimitMode: 'reject' } } });
    await manager.get(`${limited.url}/x`);
    await manager.get(`${limited.url}/x`);
    const error = await rejection(manager.get(`${limited.url}/x`));
    expect(error).toBeInstanceOf(RateLimitExceededError);
    expect((error as RateLimitExceededError).retryAfterMs).toBeGreaterThan(0);
    expect(limited.hits('/x')).toBe(2);
    for (let i = 0; i < 5; i++) await manager.get(`${other.url}/x`);
    expect(other.hits('/x')).toBe(5);
  });

  it('in wait mode a request waits its turn, and a wait longer than rateLimitMaxWaitMs or the timeout is refused at once', async () => {
    await using server = await createTestServer();
    server.route('/x', { body: 'ok' });
    await using manager = new ConnectionManager({ rateLimitRequests: 1, rateLimitPeriodMs: 60, rateLimitMaxWaitMs: 1_000 });
    await manager.get(`${server.url}/x`);
    const { context } = await manager.client.exchange('GET', `${server.url}/x`);
    expect(context.rateLimit?.waitedMs).toBeGreaterThan(20);
    manager.addEndpointConfig(hostOf(server), { rateLimitRequests: 1, rateLimitPeriodMs: 60_000, rateLimitMaxWaitMs: 10 });
    await manager.get(`${server.url}/x`);
    expect(isRateLimitExceededError(await rejection(manager.get(`${server.url}/x`)))).toBe(true);
    manager.addEndpointConfig(hostOf(server), { rateLimitRequests: 1, rateLimitPeriodMs: 60_000, timeoutMs: 50 });
    await manager.get(`${server.url}/x`);
    expect(isRateLimitExceededError(await rejection(manager.get(`${server.url}/x`)))).toBe(true);
  });

  it('rateLimitKey { header } limits each user separately; requests without the header are not limited', async () => {
    await using server = await createTestServer();
    server.route('/x', { body: 'ok' });
    await using manager = new ConnectionManager({ rateLimitRequests: 1, rateLimitPeriodMs: 60_000, rateLimitMode: 'reject', rateLimitKey: { header: 'X-User-ID' } });
    await manager.get(`${server.url}/x`, { headers: { 'X-User-ID': 'ann' } });
    await manager.get(`${server.url}/x`, { headers: { 'X-User-ID': 'bob' } });
    expect(isRateLimitExceededError(await rejection(manager.get(`${server.url}/x`, { headers: { 'X-User-ID': 'ann' } })))).toBe(true);
    await manager.get(`${server.url}/x`);
    await manager.get(`${server.url}/x`);
    expect(server.hits('/x')).toBe(4);
  });
});

describe('endpoint patterns and run-time changes', () => {
  it('the most specific pattern wins whatever the insertion order: URL prefix > host:port > host; a query never matches', async () => {
    await using server = await createTestServer();
    for (const path of ['/v2/items', '/v1/items']) server.route(path, { status: 503 });
    await using other = await createTestServer();
    other.route('/x', { status: 503 });
    await using manager = new ConnectionManager({
      backoffFactorMs: 1,
      circuitBreakerFailureThreshold: null,
      maxRetries: 0,
      endpointConfigs: {
        '127.0.0.1': { maxRetries: 1 },
        [hostOf(server)]: { maxRetries: 2 },
        [`${server.url}/v2/`]: { maxRetries: 3 },
      },
    });
    await manager.get(`${server.url}/v2/items`);
    await manager.get(`${server.url}/v1/items`);
    await manager.get(`${other.url}/x?next=${hostOf(server)}`);
    expect([server.hits('/v2/items'), server.hits('/v1/items'), other.hits('/x')]).toEqual([4, 3, 2]);
  });

  it('addEndpointConfig applies to the next request; removeEndpointConfig goes back to the defaults', async () => {
    await using server = await createTestServer();
    server.route('/x', { status: 503 });
    await using manager = new ConnectionManager({ maxRetries: 0, backoffFactorMs: 1, circuitBreakerFailureThreshold: null });
    await manager.get(`${server.url}/x`);
    manager.addEndpointConfig(hostOf(server), { maxRetries: 2 });
    await manager.get(`${server.url}/x`);
    expect(manager.getEndpointConfigs()).toEqual({ [hostOf(server)]: { maxRetries: 2 } });
    expect(manager.removeEndpointConfig(hostOf(server))).toBe(true);
    expect(manager.removeEndpointConfig(hostOf(server))).toBe(false);
    await manager.get(`${server.url}/x`);
    expect(server.hits('/x')).toBe(1 + 3 + 1);
    expect(manager.getEndpointConfigs()).toEqual({});
  });

  it('getEndpointConfigs returns copies', () => {
    const manager = new ConnectionManager({ endpointConfigs: { 'api.example.com': { timeoutMs: 10_000 } } });
    const configs = manager.getEndpointConfigs();
    (configs['api.example.com'] as { timeoutMs: number }).timeoutMs = 1;
    expect(manager.getEndpointConfigs()).toEqual({ 'api.example.com': { timeoutMs: 10_000 } });
    return manager.close();
  });

  it('bad endpoint configs at run time are refused, naming the pattern, and change nothing', async () => {
    await using manager = new ConnectionManager();
    expect(() => manager.addEndpointConfig('api.example.com', { maxRetries: -1 })).toThrow('addEndpointConfig("api.example.com").maxRetries: expected a number >= 0, got -1');
    expect(() => manager.addEndpointConfig('https://x/?q', {})).toThrow(/^addEndpointConfig\.pattern: .*never the query/);
    expect(() => manager.setTimeouts({ readMs: 0 })).toThrow('setTimeouts.readMs: expected a number > 0, got 0');
    expect(manager.getEndpointConfigs()).toEqual({});
  });
});
