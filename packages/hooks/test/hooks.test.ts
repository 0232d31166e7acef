import { Readable } from 'node:stream';
import { compose, defineMiddleware, HttpError, isHttpError, isInvalidOptionsError, isNetworkError, nodeFetchTransport, undiciTransport, type Logger } from '@shallot/core';
import { type ErrorContext, hooks, HookRegistry, type RequestContext, type ResponseContext } from '@shallot/hooks';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const transports = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
] as const;

/** A logger that keeps what it is given. */
function recordingLogger(): Logger & { lines: { level: string; fields: object; message?: string }[] } {
  const lines: { level: string; fields: object; message?: string }[] = [];
  const at = (level: string) => (fields: object | string, message?: string) => {
    if (typeof fields === 'string') lines.push({ level, fields: {}, message: fields });
    else lines.push({ level, fields, message });
  };
  return { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** An inner layer that records the URL each attempt reaches it with. */
function seen(hosts: string[]) {
  return defineMiddleware(async function seen(ctx, next) {
    hosts.push(ctx.request.url.host);
    return next();
  });
}

describe.each(transports)('hooks over %s', (_name, transport) => {
  it('pre-request hooks (sync and async) change headers on the wire; the caller headers object is untouched', async () => {
    await using server = await createTestServer();
    server.route('/echo', (req, res) => void res.end(JSON.stringify(req.headers)));
    const registry = new HookRegistry();
    registry.registerPreRequestHook(function addRequestId(ctx) {
      ctx.updateHeaders({ 'X-Request-ID': 'req-1', 'X-Remove': null });
    });
    registry.registerPreRequestHook(async function addTenant(ctx) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      ctx.headers.set('x-tenant', 'acme');
    });
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    const callerHeaders = { 'x-remove': 'yes', accept: 'application/json' };
    const headers = (await (await client.get(`${server.url}/echo`, { headers: callerHeaders })).json()) as Record<string, string>;
    expect(headers['x-request-id']).toBe('req-1');
    expect(headers['x-tenant']).toBe('acme');
    expect(headers['x-remove']).toBeUndefined();
    expect(callerHeaders).toEqual({ 'x-remove': 'yes', accept: 'application/json' });
  });

  it('updateUrl moves the request to another host, and every inner layer sees the new host', async () => {
    await using primary = await createTestServer();
    await using secondary = await createTestServer();
    primary.route('/data', { body: 'primary' });
    secondary.route('/data', { body: 'secondary' });
    const registry = new HookRegistry();
    registry.registerPreRequestHook((ctx) => ctx.updateUrl(ctx.url.replace(primary.url, secondary.url)));
    const hosts: string[] = [];
    await using client = compose().use(hooks(registry)).use(seen(hosts)).build({ transport: transport() });
    expect(await (await client.get(`${primary.url}/data?x=1`)).text()).toBe('secondary');
    expect(primary.hits()).toBe(0);
    expect(secondary.requests('/data')[0]?.url).toBe('/data?x=1');
    expect(hosts).toEqual([new URL(secondary.url).host]);
  });

  it('respondWith answers without sending anything; post-response hooks see it', async () => {
    await using server = await createTestServer();
    server.route('/cached', { body: 'from the network' });
    const registry = new HookRegistry();
    const post: ResponseContext[] = [];
    registry.registerPreRequestHook((ctx) => ctx.respondWith(new Response('from the hook', { status: 203 })));
    registry.registerPreRequestHook(function neverRuns(ctx) {
      ctx.headers.set('x-late', '1');
    });
    registry.registerPostResponseHook((ctx) => void post.push(ctx));
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    const response = await client.get(`${server.url}/cached`);
    expect(response.status).toBe(203);
    expect(await response.text()).toBe('from the hook');
    expect(server.hits()).toBe(0);
    expect(post.map((p) => [p.fromHook, p.modified, p.requestContext.headers.has('x-late')])).toEqual([[true, false, false]]);
  });

  it('post-response hooks run in order, may replace the response, and share state with pre-request hooks', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { items: [1, 2] } });
    const registry = new HookRegistry();
    const order: string[] = [];
    registry.registerPreRequestHook((ctx) => {
      ctx.state.startedAt = 42;
    });
    registry.registerPostResponseHook(async function first(ctx) {
      order.push(`first ${ctx.requestContext.state.startedAt}`);
      const body = (await ctx.response.json()) as { items: number[] };
      ctx.response = Response.json({ count: body.items.length }, { status: ctx.response.status });
    });
    registry.registerPostResponseHook(function second(ctx) {
      order.push(`second modified=${ctx.modified}`);
      ctx.markModified();
    });
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    const response = await client.get(`${server.url}/items`);
    expect(await response.json()).toEqual({ count: 2 });
    expect(order).toEqual(['first 42', 'second modified=true']);
  });

  it('error hooks run in order until one handles the error; a fallback response is returned', async () => {
    await using server = await createTestServer();
    server.route('/reset', { action: 'reset' });
    const registry = new HookRegistry();
    const calls: string[] = [];
    // POSTs: the node-fetch transport itself re-sends an idempotent request that fails on a reused socket.
    registry.registerErrorHook(function inspect(ctx) {
      calls.push(`inspect ${isNetworkError(ctx.error)}`);
    });
    registry.registerErrorHook(function answer(ctx) {
      calls.push('answer');
      ctx.setFallbackResponse(Response.json({ fallback: true }));
    });
    registry.registerErrorHook(function afterHandled() {
      calls.push('never');
    });
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    const response = await client.post(`${server.url}/reset`, { body: 'x' });
    expect(await response.json()).toEqual({ fallback: true });
    expect(calls).toEqual(['inspect true', 'answer']);
    expect(server.hits('/reset')).toBe(1);
  });

  it('handled without a fallback re-sends the request, at most maxHookRetries times', async () => {
    await using server = await createTestServer();
    server.route('/once', [{ action: 'reset' }, { body: 'second try' }]);
    server.route('/always', { action: 'reset' });
    const registry = new HookRegistry();
    const resends: number[] = [];
    registry.registerErrorHook((ctx) => {
      resends.push(ctx.resends);
      ctx.handled = true;
    });
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    // POSTs with a replayable body: the node-fetch transport itself re-sends an idempotent request that fails on a reused socket.
    const post = (c: typeof client, path: string) => c.post(`${server.url}${path}`, { body: 'x' });
    expect(await (await post(client, '/once')).text()).toBe('second try');
    expect(server.hits('/once')).toBe(2);

    const error = await post(client, '/always').catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
    expect(server.hits('/always')).toBe(2);
    expect(resends).toEqual([0, 0, 1]);

    await using twice = compose().use(hooks(registry, { maxHookRetries: 2 })).build({ transport: transport() });
    await post(twice, '/always').catch(() => {});
    expect(server.hits('/always')).toBe(5);
    await using never = compose().use(hooks(registry, { maxHookRetries: 0 })).build({ transport: transport() });
    await post(never, '/always').catch(() => {});
    expect(server.hits('/always')).toBe(6);
  });

  it('a stream body is never re-sent by an error hook', async () => {
    await using server = await createTestServer();
    server.route('/upload', { action: 'reset' });
    const registry = new HookRegistry();
    registry.registerErrorHook((ctx) => {
      ctx.handled = true;
    });
    await using client = compose().use(hooks(registry)).build({ transport: transport() });
    const error = await client.post(`${server.url}/upload`, { body: Readable.from(['a', 'b']) }).catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
    expect(server.hits('/upload')).toBe(1);
  });

  it('with throwHttpErrors, error hooks see HttpError with its response: the original guide’s "retry on 429" hook works', async () => {
    await using server = await createTestServer();
    server.route('/limited', [{ status: 429, retryAfter: 0, body: 'slow down' }, { body: 'done' }]);
    server.route('/missing', { status: 404, body: 'nope' });
    const registry = new HookRegistry();
    const statuses: number[] = [];
    registry.registerErrorHook(async function retryOnRateLimit(ctx: ErrorContext) {
      if (!isHttpError(ctx.error)) return;
      statuses.push(ctx.error.status);
      if (ctx.error.status !== 429) return;
      const wait = Number(ctx.error.response.headers.get('retry-after'));
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      ctx.handled = true;
    });
    await using client = compose().use(hooks(registry, { throwHttpErrors: true })).build({ transport: transport() });
    expect(await (await client.get(`${server.url}/limited`)).text()).toBe('done');
    expect(server.hits('/limited')).toBe(2);
    const error = await client.get(`${server.url}/missing`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).status).toBe(404);
    expect(await (error as HttpError).response.text()).toBe('nope');
    expect(statuses).toEqual([429, 404]);
  });

  it('throwHttpErrors works with no hook registered', async () => {
    await using server = await createTestServer();
    server.route('/boom', { status: 503 });
    await using client = compose().use(hooks(new HookRegistry(), { throwHttpErrors: true })).build({ transport: transport() });
    await expect(client.get(`${server.url}/boom`)).rejects.toMatchObject({ code: 'ERR_HTTP', status: 503 });
  });
});

describe('hooks: robustness', () => {
  it('a hook that throws is logged and skipped; the request goes on', async () => {
    await using server = await createTestServer();
    server.route('/ok', (req, res) => void res.end(String(req.headers['x-after'])));
    const registry = new HookRegistry();
    registry.registerPreRequestHook(function broken() {
      throw new Error('hook bug');
    });
    registry.registerPreRequestHook(async function brokenAsync() {
      throw new Error('async hook bug');
    });
    registry.registerPreRequestHook((ctx) => ctx.headers.set('x-after', 'ran'));
    registry.registerPostResponseHook(function brokenPost() {
      throw new Error('post bug');
    });
    const logger = recordingLogger();
    await using client = compose().use(hooks(registry)).build({ logger });
    const response = await client.get(`${server.url}/ok`);
    expect(await response.text()).toBe('ran');
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => w.message)).toEqual([
      "hooks: pre-request hook 'broken' threw; it was skipped",
      "hooks: pre-request hook 'brokenAsync' threw; it was skipped",
      "hooks: post-response hook 'brokenPost' threw; it was skipped",
    ]);
    expect((warnings[0]?.fields as { err: Error }).err.message).toBe('hook bug');
  });

  it('registering and removing hooks while a request is in flight does not change that request', async () => {
    await using server = await createTestServer();
    server.route('/slow', { delayMs: 60, body: 'slow' });
    const registry = new HookRegistry();
    const ran: string[] = [];
    const removed = function removedLater() {
      ran.push('removed-later');
    };
    registry.registerPostResponseHook(removed);
    await using client = compose().use(hooks(registry)).build();
    const pending = client.get(`${server.url}/slow`);
    await new Promise((resolve) => setTimeout(resolve, 15));
    registry.registerPostResponseHook(function addedLater() {
      ran.push('added-later');
    });
    expect(registry.unregister('postResponse', removed)).toBe(true);
    await (await pending).text();
    expect(ran).toEqual(['removed-later']);
    await (await client.get(`${server.url}/slow`)).text();
    expect(ran).toEqual(['removed-later', 'added-later']);
  });

  it('many concurrent requests each run the hooks they started with while hooks churn', async () => {
    await using server = await createTestServer();
    server.route('/x', { delayMs: 2, body: 'x' });
    const registry = new HookRegistry();
    let runs = 0;
    const hook = () => {
      runs++;
    };
    await using client = compose().use(hooks(registry)).build();
    const requests: Promise<string>[] = [];
    for (let i = 0; i < 40; i++) {
      const registration = registry.registerPreRequestHook(hook);
      requests.push(client.get(`${server.url}/x`).then((r) => r.text()));
      registration.dispose();
    }
    expect(await Promise.all(requests)).toHaveLength(40);
    expect(runs).toBe(40);
    expect(registry.list().preRequest).toEqual([]);
  });
});

describe('HookRegistry', () => {
  it('lists hook names by type, unregisters by type (original names accepted) and disposes registrations', () => {
    const registry = new HookRegistry();
    const pre = function addRequestId() {};
    const post = function logResponseTime() {};
    const onError = function retryOnRateLimit() {};
    registry.registerPreRequestHook(pre);
    const registration = registry.registerPostResponseHook(post);
    registry.registerErrorHook(onError);
    registry.registerErrorHook(() => {});
    expect(registry.list()).toEqual({ preRequest: ['addRequestId'], postResponse: ['logResponseTime'], error: ['retryOnRateLimit', 'anonymous'] });
    expect(registry.unregister('pre_request', pre)).toBe(true);
    expect(registry.unregister('pre_request', pre)).toBe(false);
    expect(registry.unregister('error_handler', onError)).toBe(true);
    registration.dispose();
    registration.dispose();
    expect(registry.list()).toEqual({ preRequest: [], postResponse: [], error: ['anonymous'] });
    registry.clear();
    expect(registry.snapshot().empty).toBe(true);
    expect(() => registry.unregister('later' as never, pre)).toThrow(/unknown hook type "later"/);
    expect(() => registry.registerPreRequestHook('nope' as never)).toThrow(TypeError);
  });

  it('hooks() validates its options', () => {
    const registry = new HookRegistry();
    expect(() => hooks(registry, { maxHookRetries: -1 })).toThrow('hooks.maxHookRetries: expected a number >= 0, got -1');
    const error = (() => {
      try {
        hooks(registry, { retries: 1 } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isInvalidOptionsError(error) && error.message).toBe("hooks: unknown option 'retries'");
    expect(() => hooks({} as never)).toThrow(/expected a HookRegistry/);
  });

  it('RequestContext exposes method, url, options and updatePayload', async () => {
    await using server = await createTestServer();
    server.route('/post', (req, res) => void res.end(JSON.stringify({ method: req.method, type: req.headers['content-type'], body: req.body.toString() })));
    const registry = new HookRegistry();
    const seenCtx: RequestContext[] = [];
    registry.registerPreRequestHook((ctx) => {
      seenCtx.push(ctx);
      expect(ctx.options.body?.replayable).toBe(true);
      expect(ctx.options.timeoutMs).toBeGreaterThan(0);
      ctx.method = 'put';
      ctx.updatePayload({ json: { replaced: true } });
    });
    await using client = compose().use(hooks(registry)).build();
    const response = await client.post(`${server.url}/post`, { body: 'original', timeoutMs: 5_000 });
    expect(await response.json()).toEqual({ method: 'PUT', type: 'application/json', body: '{"replaced":true}' });
    expect(seenCtx[0]?.url).toBe(`${server.url}/post`);
    expect(seenCtx[0]?.method).toBe('PUT');
  });

  it('describe() shows the layer with its options and registered hook names', () => {
    const registry = new HookRegistry();
    registry.registerErrorHook(function fallbackToCache() {});
    const client = compose().use(hooks(registry)).build();
    expect(client.describe()[0]).toEqual({
      kind: 'middleware',
      name: 'hooks',
      options: { throwHttpErrors: false, maxHookRetries: 1, registered: { preRequest: [], postResponse: [], error: ['fallbackToCache'] } },
    });
  });
});
