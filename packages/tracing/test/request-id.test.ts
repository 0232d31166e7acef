import { compose, defineMiddleware, fork, isInvalidOptionsError, type Logger } from '@shallot/core';
import { createTestServer, failTimes, type TestServer } from '@shallot/testing';
import { requestId, tracing } from '@shallot/tracing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

/** A stand-in for @shallot/retry: re-sends on 5xx up to `max` times. */
const retryOn5xx = (max = 3) =>
  defineMiddleware(async function retry(ctx, next) {
    for (let attempt = 1; ; attempt++) {
      ctx.attempt = attempt;
      const response = await next();
      if (response.status < 500 || attempt >= max) return response;
      await response.arrayBuffer();
    }
  });

/** Replaces the request headers on every pass, as a layer that rebuilds a request might. */
const rebuildHeaders = defineMiddleware(async function rebuild(ctx, next) {
  ctx.request.headers = new Headers({ accept: 'application/json' });
  return next();
});

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const sentIds = (path: string, header = 'x-request-id') => server.requests(path).map((r) => r.headers[header]);

describe('requestId()', () => {
  it('sends a fresh x-request-id with each request and exposes it as ctx.requestId', async () => {
    server.route('/id', { json: {} });
    await using client = compose().use(requestId()).build({ baseUrl: server.url });
    const first = await client.exchange('GET', '/id');
    const second = await client.exchange('GET', '/id');
    const [a, b] = sentIds('/id');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.context.requestId).toBe(a);
    expect(second.context.requestId).toBe(b);
    expect(a).not.toBe(b);
  });

  it("keeps the caller's own id", async () => {
    server.route('/own', { json: {} });
    await using client = compose().use(requestId()).build({ baseUrl: server.url });
    const { context } = await client.exchange('GET', '/own', { headers: { 'X-Request-ID': 'caller-42' } });
    expect(sentIds('/own')).toEqual(['caller-42']);
    expect(context.requestId).toBe('caller-42');
  });

  it('sends the same id on every attempt, even when an inner layer rebuilds the headers', async () => {
    server.route('/retried', failTimes(2));
    await using client = compose().use(requestId()).use(retryOn5xx(3)).use(rebuildHeaders).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/retried');
    expect(response.status).toBe(200);
    expect(sentIds('/retried')).toEqual([context.requestId, context.requestId, context.requestId]);
  });

  it('sends the same id on concurrent (forked) attempts', async () => {
    server.route('/hedged', { delayMs: 20, json: {} });
    const twice = defineMiddleware(async function hedge(ctx, next) {
      const [a] = await Promise.all([next(fork(ctx)), next(fork(ctx))]);
      return a;
    });
    await using client = compose().use(requestId()).use(twice).build({ baseUrl: server.url });
    const { context } = await client.exchange('GET', '/hedged');
    expect(sentIds('/hedged')).toEqual([context.requestId, context.requestId]);
  });

  it('takes a header name and a generator', async () => {
    server.route('/custom', { json: {} });
    await using client = compose()
      .use(requestId({ header: 'X-Correlation-ID', generate: (ctx) => `req-${ctx.request.method.toLowerCase()}-1` }))
      .build({ baseUrl: server.url });
    await client.get('/custom');
    expect(sentIds('/custom', 'x-correlation-id')).toEqual(['req-get-1']);
    expect(sentIds('/custom')).toEqual([undefined]);
  });

  it('binds the id to the logger, so every line of the request carries it', async () => {
    server.route('/logged', { json: {} });
    const lines: { bindings: object; message: string | undefined }[] = [];
    const make = (bindings: object): Logger => {
      const write = (_fields: object | string, message?: string): void => {
        lines.push({ bindings, message: typeof _fields === 'string' ? _fields : message });
      };
      return { debug: write, info: write, warn: write, error: write, child: (more) => make({ ...bindings, ...more }) };
    };
    await using client = compose().use(requestId()).use(tracing()).build({ baseUrl: server.url, logger: make({}) });
    const { context } = await client.exchange('GET', '/logged');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line.bindings).toEqual({ requestId: context.requestId });
  });

  it('rejects a header name that is not a token', () => {
    let error: unknown;
    try {
      requestId({ header: 'x request id' });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toContain('requestId.header: expected an HTTP header name');
  });
});
