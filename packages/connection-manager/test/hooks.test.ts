import {
  ConnectionManager,
  type ErrorContext,
  HttpError,
  isCircuitBreakerOpenError,
  isHttpError,
  isRateLimitExceededError,
  type RequestContext,
  type ResponseContext,
} from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { echo, type Echoed, hostOf, rejection, transports } from './helpers.js';

describe.each(transports)('hooks over %s', (transport) => {
  it('a pre-request hook can answer from a cache: the second GET never reaches the server (the original still sent it)', async () => {
    await using server = await createTestServer();
    server.route('/get', { json: { param: 'value' } });
    const cache = new Map<string, { body: string; status: number; headers: [string, string][] }>();
    await using manager = new ConnectionManager({ transport });
    manager.registerPreRequestHook(function cachedAnswer(ctx: RequestContext) {
      const hit = ctx.method === 'GET' ? cache.get(ctx.url) : undefined;
      if (hit !== undefined) ctx.respondWith(new Response(hit.body, { status: hit.status, headers: hit.headers }));
    });
    manager.registerPostResponseHook(async function store(ctx: ResponseContext) {
      if (ctx.fromHook || ctx.requestContext.method !== 'GET' || !ctx.response.ok) return;
      const body = await ctx.response.text();
      cache.set(ctx.requestContext.url, { body, status: ctx.response.status, headers: [...ctx.response.headers] });
      ctx.response = new Response(body, ctx.response);
    });
    const first = await (await manager.get(`${server.url}/get?param=value`)).json();
    const second = await (await manager.get(`${server.url}/get?param=value`)).json();
    expect([first, second]).toEqual([{ param: 'value' }, { param: 'value' }]);
    expect(server.hits('/get')).toBe(1);
  });

  it('a hook that moves a request to another host gets that host’s limits, timeouts and credentials (the original mixed old and new)', async () => {
    await using oldHost = await createTestServer();
    await using newHost = await createTestServer();
    echo(oldHost);
    echo(newHost);
    await using manager = new ConnectionManager({
      transport,
      endpointConfigs: {
        [hostOf(oldHost)]: { bearerToken: 'old-token', rateLimitRequests: 100 },
        [hostOf(newHost)]: { bearerToken: 'new-token', rateLimitRequests: 1, rateLimitPeriodMs: 60_000, rateLimitMode: 'reject' },
      },
    });
    manager.registerPreRequestHook((ctx) => ctx.updateUrl(ctx.url.replace(oldHost.url, newHost.url)));
    const seen = (await (await manager.get(`${oldHost.url}/echo`)).json()) as Echoed;
    expect(seen.authorization).toBe('Bearer new-token');
    expect(isRateLimitExceededError(await rejection(manager.get(`${oldHost.url}/echo`)))).toBe(true);
    expect([oldHost.hits(), newHost.hits()]).toEqual([0, 1]);
    expect(Object.keys(manager.getStats().hosts)).toEqual([hostOf(newHost)]);
  });
});

describe('hooks through the manager', () => {
  it('registers, lists and unregisters hooks (the original’s type names accepted)', async () => {
    await using manager = new ConnectionManager();
    const addRequestId = () => {};
    const logResponseTime = () => {};
    const retryOnRateLimit = () => {};
    manager.registerPreRequestHook(addRequestId);
    const registration = manager.registerPostResponseHook(logResponseTime);
    manager.registerErrorHook(retryOnRateLimit);
    expect(manager.listHooks()).toEqual({ preRequest: ['addRequestId'], postResponse: ['logResponseTime'], error: ['retryOnRateLimit'] });
    expect(manager.unregisterHook('pre_request', addRequestId)).toBe(true);
    expect(manager.unregisterHook('error', retryOnRateLimit)).toBe(true);
    expect(manager.unregisterHook('error_handler', retryOnRateLimit)).toBe(false);
    registration.dispose();
    expect(manager.listHooks()).toEqual({ preRequest: [], postResponse: [], error: [] });
    expect(manager.getStats().hooks).toEqual({ preRequest: [], postResponse: [], error: [] });
  });

  it('with raiseForStatus, error hooks see HttpError: marking a 429 handled sends the request again (maxHookRetries)', async () => {
    await using server = await createTestServer();
    server.route('/limited', [{ status: 429, retryAfter: 0, times: 2 }, { body: 'done' }]);
    server.route('/always', { status: 429, retryAfter: 0 });
    await using manager = new ConnectionManager({ raiseForStatus: true, maxRetries: 0, maxHookRetries: 2 });
    const seen: number[] = [];
    manager.registerErrorHook(function retryOnRateLimit(ctx: ErrorContext) {
      if (isHttpError(ctx.error) && ctx.error.status === 429) {
        seen.push(ctx.resends);
        ctx.handled = true;
      }
    });
    expect(await (await manager.get(`${server.url}/limited`)).text()).toBe('done');
    expect(seen).toEqual([0, 1]);
    const error = await rejection(manager.get(`${server.url}/always`));
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(429);
    expect(server.hits('/always')).toBe(3);
  });

  it('an error hook answers an open circuit with a fallback response', async () => {
    await using server = await createTestServer();
    server.route('/x', { status: 500 });
    await using manager = new ConnectionManager({ maxRetries: 0, circuitBreakerFailureThreshold: 1 });
    manager.registerErrorHook((ctx) => {
      if (isCircuitBreakerOpenError(ctx.error)) ctx.setFallbackResponse(Response.json({ cached: true }, { headers: { 'x-fallback': '1' } }));
    });
    expect((await manager.get(`${server.url}/x`)).status).toBe(500);
    const fallback = await manager.get(`${server.url}/x`);
    expect([fallback.headers.get('x-fallback'), await fallback.json()]).toEqual(['1', { cached: true }]);
    expect(server.hits('/x')).toBe(1);
  });
});
