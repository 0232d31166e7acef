import { ClientClosedError, ConnectionManager, ConnectionManagerError, isConnectionManagerError } from '@shallot/connection-manager';
import { defineMiddleware, isPathOnly } from '@shallot/core';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { type Echoed, hostOf, transports } from './helpers.js';

describe.each(transports)('ConnectionManager over %s', (transport) => {
  it('sends every method, with json, searchParams and headers', async () => {
    await using server = await createTestServer();
    server.route('/thing', (req, res) => void res.end(JSON.stringify({ method: req.method, url: req.url, body: req.body.toString(), type: req.headers['content-type'], tag: req.headers['x-tag'] })));
    await using manager = new ConnectionManager({ transport });
    const url = `${server.url}/thing`;
    const methods = [
      ['GET', manager.get(url, { searchParams: { page: 2 } })],
      ['POST', manager.post(url, { json: { a: 1 } })],
      ['PUT', manager.put(url, { body: 'text' })],
      ['PATCH', manager.patch(url, { json: [1] })],
      ['DELETE', manager.delete(url, { headers: { 'x-tag': 'gone' } })],
      ['OPTIONS', manager.options(url)],
      ['TRACE', manager.request('trace', url)],
    ] as const;
    const seen = await Promise.all(methods.map(async ([, pending]) => (await pending).json() as Promise<Echoed>));
    expect(seen.map((s) => s.method)).toEqual(methods.map(([m]) => m));
    expect(seen[0]?.url).toBe('/thing?page=2');
    expect([seen[1]?.body, seen[1]?.type]).toEqual(['{"a":1}', 'application/json']);
    expect(seen[2]?.body).toBe('text');
    expect(seen[4]?.tag).toBe('gone');
    const head = await manager.head(url);
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect(server.hits('/thing')).toBe(8);
  });

  it('maps poolConnections and poolMaxsize to the transport pool (maxOrigins, maxSockets)', async () => {
    await using server = await createTestServer();
    server.route('/slow', { delayMs: 40, body: 'x' });
    await using manager = new ConnectionManager({ transport, poolConnections: 3, poolMaxsize: 2 });
    const described = manager.describe().at(-1);
    expect(described).toMatchObject({ kind: 'transport', name: transport, options: { maxSockets: 2, maxOrigins: 3 } });
    await Promise.all(Array.from({ length: 6 }, async () => (await manager.get(`${server.url}/slow`)).text()));
    expect(server.connections().opened).toBe(2);
  });
});

describe('ConnectionManager: the client around the stack', () => {
  it('baseUrl and default headers apply to every request; a request’s own headers win', async () => {
    await using server = await createTestServer();
    server.route('/api/items', (req, res) => void res.end(JSON.stringify(req.headers)));
    await using manager = new ConnectionManager({ baseUrl: `${server.url}/api/`, headers: { 'x-team': 'payments', accept: 'application/json' } });
    const seen = (await (await manager.get('items', { headers: { accept: 'text/plain' } })).json()) as Echoed;
    expect([seen['x-team'], seen.accept]).toEqual(['payments', 'text/plain']);
  });

  it('describe() shows the onion, outermost first, and each endpoint’s stack', async () => {
    await using manager = new ConnectionManager({
      requestId: true,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      attemptTimeoutMs: 500,
      verify: false,
      endpointConfigs: { 'api.example.com': { maxRetries: 0, rateLimitRequests: null, circuitBreakerFailureThreshold: null } },
    });
    const layers = manager.describe();
    expect(layers.map((l) => l.name)).toEqual(['requestId', 'requestLog', 'hooks', 'metrics', 'endpoints', 'undici']);
    const stacks = (layers[4]?.options as { stacks: Record<string, { name: string; options: unknown }[]> }).stacks;
    expect(Object.fromEntries(Object.entries(stacks).map(([k, v]) => [k, v.map((l) => l.name)]))).toEqual({
      '(default)': ['timeout', 'auth', 'retry', 'rateLimit', 'circuitBreaker', 'timeout', 'tls'],
      'api.example.com': ['timeout', 'auth', 'timeout', 'tls'],
    });
    expect(stacks['(default)']?.[2]?.options).toMatchObject({ maxAttempts: 4, retryOnStatus: [429, 500, 502, 503, 504] });
    expect(stacks['(default)']?.[3]?.options).toMatchObject({ limit: 100, intervalMs: 60_000, mode: 'wait', key: 'global' });
    expect(stacks['(default)']?.[4]?.options).toMatchObject({ failureThreshold: 5, recoveryTimeoutMs: 60_000, key: 'host' });
  });

  it('middlewares run after the hooks and before the endpoint stacks: a request your layer routes gets that endpoint’s settings', async () => {
    await using server = await createTestServer();
    server.route('/items', (req, res) => void res.end(JSON.stringify(req.headers)));
    const seen: string[] = [];
    // A minimal router of your own: a bare path goes to the server.
    const route = defineMiddleware(async function route(ctx, next) {
      seen.push(ctx.request.url.href);
      if (isPathOnly(ctx.request.url)) ctx.request.url = new URL(ctx.request.url.pathname + ctx.request.url.search, server.url);
      return next();
    });
    await using manager = new ConnectionManager({ middlewares: [route], requestId: true, endpointConfigs: { [hostOf(server)]: { apiKey: 'endpoint-key' } } });
    manager.registerPreRequestHook((ctx) => ctx.updateUrl('/items?from=hook'));
    const headers = (await (await manager.get('/start')).json()) as Echoed;
    expect(headers['x-api-key']).toBe('endpoint-key');
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen).toEqual(['shallot-path:/items?from=hook']);
    expect(manager.describe().map((l) => l.name)).toEqual(['requestId', 'hooks', 'route', 'metrics', 'endpoints', 'undici']);
    expect(Object.keys(manager.getStats().hosts)).toEqual([hostOf(server)]);
  });

  it('tracing: true adds the OpenTelemetry layer (a no-op without an SDK)', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    await using manager = new ConnectionManager({ tracing: true, keepAliveMs: 1_000 });
    expect(manager.describe()[0]?.name).toBe('tracing');
    expect(await (await manager.get(`${server.url}/ok`)).text()).toBe('ok');
  });

  it('close() closes the pools; later requests reject with ClientClosedError, a ConnectionManagerError', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    const manager = new ConnectionManager();
    expect(await (await manager.get(`${server.url}/ok`)).text()).toBe('ok');
    await manager[Symbol.asyncDispose]();
    expect(manager.closed).toBe(true);
    await manager.close();
    const error = await manager.get(`${server.url}/ok`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect(error).toBeInstanceOf(ConnectionManagerError);
    expect(isConnectionManagerError(error)).toBe(true);
    expect(server.hits('/ok')).toBe(1);
  });

  it('client exposes exchange() with the typed context', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    await using manager = new ConnectionManager();
    const { response, context } = await manager.client.exchange('GET', `${server.url}/ok`);
    expect(await response.text()).toBe('ok');
    expect(context.attempt).toBe(1);
  });
});
