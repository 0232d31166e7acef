import {
  chain,
  compose,
  defineMiddleware,
  fork,
  isMiddlewareProtocolError,
  type Middleware,
  MiddlewareProtocolError,
  type Next,
} from '@shallot/core';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
  server.route('/ok', { json: { ok: true } });
  server.route('/slow', { delayMs: 30, json: { slow: true } });
});
afterAll(() => server.close());

const trace = (log: string[], name: string): Middleware =>
  defineMiddleware(
    async function traced(_ctx, next) {
      log.push(`${name}:in`);
      const response = await next();
      log.push(`${name}:out`);
      return response;
    },
    { name, options: { label: name } },
  );

describe('the onion', () => {
  it('runs layers outermost first and unwinds in reverse', async () => {
    const log: string[] = [];
    await using client = compose().use(trace(log, 'a')).use(trace(log, 'b')).use(trace(log, 'c')).build({ baseUrl: server.url });
    const response = await client.get('/ok');
    expect(await response.json()).toEqual({ ok: true });
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'c:out', 'b:out', 'a:out']);
  });

  it('describe() lists layers outermost first with resolved options, then the transport', async () => {
    const log: string[] = [];
    await using client = compose().use(trace(log, 'outer')).use(chain(trace(log, 'x'), trace(log, 'y'))).build();
    const layers = client.describe();
    expect(layers.map((l) => l.name)).toEqual(['outer', 'x', 'y', 'undici']);
    expect(layers[0]).toEqual({ kind: 'middleware', name: 'outer', options: { label: 'outer' } });
    expect(layers[3]?.kind).toBe('transport');
    expect(layers[3]?.options).toMatchObject({ maxSockets: 10, maxOrigins: 10 });
  });

  it('chain() makes one middleware of several, usable outside a builder too', async () => {
    const log: string[] = [];
    const stack = chain(trace(log, 'a'), trace(log, 'b'));
    expect(stack.layers?.length).toBe(2);
    await using client = compose().use(stack).use(trace(log, 'c')).build({ baseUrl: server.url });
    await (await client.get('/ok')).text();
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'c:out', 'b:out', 'a:out']);

    // A chain called directly by a hand-written middleware: the chain's layers then the outer next().
    log.length = 0;
    const direct = defineMiddleware(async function direct(ctx, next) {
      return stack(ctx, next);
    });
    await using client2 = compose().use(direct).build({ baseUrl: server.url });
    await (await client2.get('/ok')).text();
    expect(log).toEqual(['a:in', 'b:in', 'b:out', 'a:out']);
  });

  it('lets a layer answer without calling next() (short-circuit)', async () => {
    const before = server.hits('/ok');
    const canned = defineMiddleware(async function canned() {
      return Response.json({ canned: true }, { headers: { 'x-from': 'layer' } });
    });
    await using client = compose().use(canned).build({ baseUrl: server.url });
    const response = await client.get('/ok');
    expect(response.headers.get('x-from')).toBe('layer');
    expect(await response.json()).toEqual({ canned: true });
    expect(server.hits('/ok')).toBe(before);
  });

  it('shares one context object across layers, with a unique id per request', async () => {
    const seen: string[] = [];
    const outer = defineMiddleware<{}, { mark: { by: string } }>(async function outer(ctx, next) {
      ctx.mark = { by: 'outer' };
      return next();
    });
    const inner = defineMiddleware<{ mark: { by: string } }>(async function inner(ctx, next) {
      seen.push(`${ctx.mark.by}:${ctx.id}`);
      return next();
    });
    await using client = compose().use(outer).use(inner).build({ baseUrl: server.url });
    await (await client.get('/ok')).text();
    await (await client.get('/ok')).text();
    expect(seen).toHaveLength(2);
    expect(seen[0]?.startsWith('outer:')).toBe(true);
    expect(seen[0]).not.toBe(seen[1]);
  });
});

describe('the next() rules', () => {
  it('allows next() again after the previous call settled, each call reaching the server', async () => {
    server.route('/twice', [{ status: 503 }, { json: { second: true } }]);
    const again = defineMiddleware(async function again(_ctx, next) {
      const first = await next();
      if (first.status !== 503) return first;
      await first.arrayBuffer();
      return next();
    });
    await using client = compose().use(again).build({ baseUrl: server.url });
    const response = await client.get('/twice');
    expect(await response.json()).toEqual({ second: true });
    expect(server.hits('/twice')).toBe(2);
  });

  it('rejects a second next() with the same context while the first is pending', async () => {
    let secondError: unknown;
    const eager = defineMiddleware(async function eager(_ctx, next) {
      const first = next();
      await next().catch((error: unknown) => {
        secondError = error;
      });
      return first;
    });
    const before = server.hits('/slow');
    await using client = compose().use(eager).build({ baseUrl: server.url });
    const response = await client.get('/slow');
    expect(await response.json()).toEqual({ slow: true });
    expect(secondError).toBeInstanceOf(MiddlewareProtocolError);
    expect((secondError as MiddlewareProtocolError).code).toBe('ERR_MIDDLEWARE_PROTOCOL');
    expect((secondError as MiddlewareProtocolError).message).toContain("middleware 'eager'");
    expect((secondError as MiddlewareProtocolError).message).toContain('pending');
    expect(server.hits('/slow')).toBe(before + 1);
  });

  it('rejects next() called after the middleware settled', async () => {
    let leaked: Next | undefined;
    const leaky = defineMiddleware(async function leaky(_ctx, next) {
      leaked = next;
      return next();
    });
    await using client = compose().use(leaky).build({ baseUrl: server.url });
    await (await client.get('/ok')).text();
    const before = server.hits('/ok');
    const late = await (leaked as Next)().catch((error: unknown) => error);
    expect(isMiddlewareProtocolError(late)).toBe(true);
    expect((late as Error).message).toContain('after it had settled');
    expect(server.hits('/ok')).toBe(before);
  });

  it('allows concurrent attempts through forked contexts', async () => {
    const before = server.hits('/slow');
    const forks: string[] = [];
    const fanOut = defineMiddleware(async function fanOut(ctx, next) {
      const a = fork(ctx);
      const b = fork(ctx);
      forks.push(a.id, b.id, String(a.parent === ctx));
      const [ra, rb] = await Promise.all([next(a), next(b)]);
      await rb.arrayBuffer();
      return ra;
    });
    await using client = compose().use(fanOut).build({ baseUrl: server.url });
    const response = await client.get('/slow');
    expect(await response.json()).toEqual({ slow: true });
    expect(server.hits('/slow')).toBe(before + 2);
    expect(forks[0]).toBe(forks[1]);
    expect(forks[2]).toBe('true');
  });

  it('a fork has its own request headers and an abort of its own that leaves the parent alone', async () => {
    let parentAborted: boolean | undefined;
    let forkError: unknown;
    const forker = defineMiddleware(async function forker(ctx, next) {
      const controller = new AbortController();
      const copy = fork(ctx, { signal: controller.signal });
      copy.request.headers.set('x-fork', 'yes');
      const pending = next(copy).catch((error: unknown) => {
        forkError = error;
      });
      controller.abort(new Error('loser'));
      await pending;
      parentAborted = ctx.signal.aborted;
      expect(ctx.request.headers.has('x-fork')).toBe(false);
      return next();
    });
    await using client = compose().use(forker).build({ baseUrl: server.url });
    expect((await client.get('/slow')).status).toBe(200);
    expect(parentAborted).toBe(false);
    expect((forkError as Error).message).toBe('loser');
  });

  it('rejects a middleware that resolves with something other than a Response', async () => {
    const broken = defineMiddleware(async function broken() {
      return undefined as unknown as Response;
    });
    await using client = compose().use(broken).build({ baseUrl: server.url });
    const error = await client.get('/ok').catch((e: unknown) => e);
    expect(isMiddlewareProtocolError(error)).toBe(true);
    expect((error as Error).message).toContain("middleware 'broken' resolved with undefined instead of a Response");
  });

  it('turns a synchronous throw in a middleware into a rejection', async () => {
    const thrower = ((() => {
      throw new Error('sync boom');
    }) as unknown) as Middleware;
    await using client = compose().use(thrower).build({ baseUrl: server.url });
    await expect(client.get('/ok')).rejects.toThrow('sync boom');
  });

  it('rejects use() of something that is not a function', () => {
    expect(() => compose().use(42 as unknown as Middleware)).toThrow(/expected a middleware function, got number/);
  });
});

describe('transport hooks', () => {
  it('run around every send, including each attempt an inner layer makes, and can be disposed', async () => {
    const { addTransportHook } = await import('@shallot/core');
    const seen: number[] = [];
    let handle: { dispose(): void } | undefined;
    const observe = defineMiddleware(async function observe(ctx, next) {
      handle = addTransportHook(ctx, async (attemptCtx, send) => {
        seen.push(attemptCtx.attempt);
        return send();
      });
      return next();
    });
    const twice = defineMiddleware(async function twice(ctx, next) {
      ctx.attempt = 1;
      await (await next()).arrayBuffer();
      ctx.attempt = 2;
      const second = await next();
      handle?.dispose();
      await second.arrayBuffer();
      ctx.attempt = 3;
      return next();
    });
    await using client = compose().use(observe).use(twice).build({ baseUrl: server.url });
    await (await client.get('/ok')).arrayBuffer();
    expect(seen).toEqual([1, 2]);
  });

  it('a fork gets a copy of the hook list: hooks it adds stay its own', async () => {
    const { addTransportHook } = await import('@shallot/core');
    const calls: string[] = [];
    const forker = defineMiddleware(async function forker(ctx, next) {
      const a = fork(ctx);
      addTransportHook(a, async (_c, send) => {
        calls.push('a-hook');
        return send();
      });
      await (await next(a)).arrayBuffer();
      return next(fork(ctx));
    });
    await using client = compose().use(forker).build({ baseUrl: server.url });
    await (await client.get('/ok')).arrayBuffer();
    expect(calls).toEqual(['a-hook']);
  });
});
