import { Readable } from 'node:stream';
import {
  BodyNotReplayableError,
  compose,
  defineMiddleware,
  HttpError,
  isBodyNotReplayableError,
  isClientClosedError,
  isHttpError,
  isInvalidOptionsError,
  isPathOnly,
  isTimeoutError,
  type Logger,
  TimeoutError,
} from '@shallot/core';
import { createTestServer, type TestServer, virtualClock, waitFor } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
  server.route('/echo', (request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: request.body.toString(),
      }),
    );
  });
  server.route('/status/404', { status: 404, json: { error: 'missing' } });
  server.route('/status/503', { status: 503 });
  server.route('/hang', { action: 'hang' });
  server.route('/slow', { delayMs: 200, json: { slow: true } });
});
afterAll(() => server.close());

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const replayTwice = defineMiddleware(async function replayTwice(_ctx, next) {
  await (await next()).arrayBuffer();
  return next();
});

describe('client methods and request options', () => {
  it.each(['get', 'delete', 'options', 'post', 'put', 'patch'] as const)('%s sends its method', async (verb) => {
    await using client = compose().build({ baseUrl: server.url });
    const echo = (await (await client[verb]('/echo')).json()) as Echo;
    expect(echo.method).toBe(verb.toUpperCase());
  });

  it('head resolves with a null body', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const response = await client.head('/echo');
    expect(response.status).toBe(200);
    expect(response.body).toBeNull();
    expect(await response.text()).toBe('');
  });

  it('request() and fetch() take any method; fetch() also takes a Request', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const viaRequest = (await (await client.request('PROPFIND', '/echo')).json()) as Echo;
    expect(viaRequest.method).toBe('PROPFIND');
    const viaFetch = (await (await client.fetch(`${server.url}/echo`, { method: 'put', body: 'x' })).json()) as Echo;
    expect(viaFetch).toMatchObject({ method: 'PUT', body: 'x' });
    const req = new Request(`${server.url}/echo?a=1`, { method: 'POST', body: 'from a Request', headers: { 'x-r': '1' } });
    const viaRequestObject = (await (await client.fetch(req)).json()) as Echo;
    expect(viaRequestObject).toMatchObject({ method: 'POST', url: '/echo?a=1', body: 'from a Request' });
    expect(viaRequestObject.headers['x-r']).toBe('1');
  });

  it('json sends a JSON body with its content type; a caller content type wins', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const echo = (await (await client.post('/echo', { json: { a: 1 } })).json()) as Echo;
    expect(echo.body).toBe('{"a":1}');
    expect(echo.headers['content-type']).toBe('application/json');
    const custom = (await (await client.post('/echo', { json: [1], headers: { 'content-type': 'application/vnd.x+json' } })).json()) as Echo;
    expect(custom.headers['content-type']).toBe('application/vnd.x+json');
  });

  it('searchParams are set on the URL, arrays repeat, undefined is skipped', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const echo = (await (await client.get('/echo?keep=1&page=1', { searchParams: { page: 2, tag: ['a', 'b'], skip: undefined } })).json()) as Echo;
    expect(echo.url).toBe('/echo?keep=1&page=2&tag=a&tag=b');
    const fromString = (await (await client.get('/echo', { searchParams: 'q=x y' })).json()) as Echo;
    expect(fromString.url).toBe('/echo?q=x+y');
  });

  it('baseUrl: a path is appended to the base path; absolute URLs pass through', async () => {
    await using client = compose().build({ baseUrl: `${server.url}/api/v1` });
    server.route('/api/v1/items', { json: { items: true } });
    expect(await (await client.get('items')).json()).toEqual({ items: true });
    expect(await (await client.get('/items')).json()).toEqual({ items: true });
    expect(((await (await client.get(`${server.url}/echo`)).json()) as Echo).url).toBe('/echo');
  });

  it('a path without baseUrl waits for a layer to choose the origin, and is refused if none does', async () => {
    await using bare = compose().build();
    const before = server.hits();
    await expect(bare.get('/nowhere?x=1')).rejects.toMatchObject({
      code: 'ERR_NO_ORIGIN',
      message: 'GET /nowhere?x=1: /nowhere?x=1 is a path with no origin: set baseUrl, or use a layer that chooses the endpoint (a load balancer)',
    });
    await expect(bare.get('not a url')).rejects.toThrow('invalid URL "not a url": give an absolute URL or a path, or set baseUrl');
    expect(server.hits()).toBe(before);

    const chooser = defineMiddleware(async function chooser(ctx, next) {
      const { url } = ctx.request;
      if (isPathOnly(url)) ctx.request.url = new URL(url.pathname + url.search, server.url);
      return next();
    });
    await using routed = compose().use(chooser).build();
    expect(((await (await routed.get('/echo?via=layer')).json()) as Echo).url).toBe('/echo?via=layer');
  });

  it('client headers are sent under request headers, which win', async () => {
    await using client = compose().build({ baseUrl: server.url, headers: { 'x-app': 'shallot', 'x-both': 'client' } });
    const echo = (await (await client.get('/echo', { headers: { 'x-both': 'request' } })).json()) as Echo;
    expect(echo.headers['x-app']).toBe('shallot');
    expect(echo.headers['x-both']).toBe('request');
  });

  it('any status resolves by default (fetch semantics)', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const response = await client.get('/status/404');
    expect(response.status).toBe(404);
    expect(response.ok).toBe(false);
  });

  it('throwHttpErrors turns 4xx/5xx into HttpError with the response, per client or per request', async () => {
    await using strict = compose().build({ baseUrl: server.url, throwHttpErrors: true });
    const error = await strict.get('/status/404').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect(isHttpError(error)).toBe(true);
    const httpError = error as HttpError;
    expect(httpError.code).toBe('ERR_HTTP');
    expect(httpError.status).toBe(404);
    expect(httpError.message).toBe(`GET ${server.url}/status/404: responded 404 Not Found: {"error":"missing"}`);
    expect(httpError.bodyText).toBe('{"error":"missing"}');
    expect(await httpError.response.json()).toEqual({ error: 'missing' });
    expect((await strict.get('/status/404', { throwHttpErrors: false })).status).toBe(404);

    await using lenient = compose().build({ baseUrl: server.url });
    await expect(lenient.get('/status/503', { throwHttpErrors: true })).rejects.toMatchObject({ code: 'ERR_HTTP', status: 503 });
  });

  it('exchange() hands back the response with its typed context', async () => {
    const tag = defineMiddleware<{}, { tag: { value: string } }>(async function tag(ctx, next) {
      ctx.tag = { value: 'tagged' };
      return next();
    });
    await using client = compose().use(tag).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/echo');
    expect(response.status).toBe(200);
    expect(context.tag.value).toBe('tagged');
    expect(context.request.url.href).toBe(`${server.url}/echo`);
    expect(context.attempt).toBe(1);
    await response.arrayBuffer();
  });

  it('passes the logger and clock to every layer', async () => {
    const lines: string[] = [];
    const logger: Logger = { debug: (m: unknown) => lines.push(String(m)), info: () => {}, warn: () => {}, error: () => {} };
    const clock = virtualClock({ startMs: 1_000 });
    let seenNow = 0;
    const probe = defineMiddleware(async function probe(ctx, next) {
      ctx.log.debug('probe');
      seenNow = ctx.clock.now();
      return next();
    });
    await using client = compose().use(probe).build({ baseUrl: server.url, logger, clock });
    await (await client.get('/echo')).arrayBuffer();
    expect(lines).toEqual(['probe']);
    expect(seenNow).toBe(1_000);
  });

  it('validates build() options with messages that name the option and value', () => {
    const error = (() => {
      try {
        compose().build({ timeoutMs: -5, baseUrl: 'not a url', extra: 1 } as never);
      } catch (e) {
        return e;
      }
    })();
    expect(isInvalidOptionsError(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('build: unknown option \'extra\'');
    expect(message).toContain('build.timeoutMs: expected a number > 0, got -5');
    expect(message).toContain('build.baseUrl');
  });
});

describe('bodies', () => {
  const cases: Array<[string, () => unknown, string, string | undefined]> = [
    ['a string', () => 'plain text', 'plain text', 'text/plain;charset=UTF-8'],
    ['bytes', () => new TextEncoder().encode('bytes!'), 'bytes!', undefined],
    ['an ArrayBuffer', () => new TextEncoder().encode('buffer').buffer, 'buffer', undefined],
    ['URLSearchParams', () => new URLSearchParams({ a: '1', b: 'two' }), 'a=1&b=two', 'application/x-www-form-urlencoded;charset=UTF-8'],
    ['a Blob', () => new Blob(['blob body'], { type: 'text/x-blob' }), 'blob body', 'text/x-blob'],
  ];

  it.each(cases)('%s is replayable: sent again with the same bytes', async (_name, make, expected, contentType) => {
    await using client = compose().use(replayTwice).build({ baseUrl: server.url });
    const before = server.requests('/echo').length;
    const echo = (await (await client.post('/echo', { body: make() as string })).json()) as Echo;
    expect(echo.body).toBe(expected);
    expect(echo.headers['content-type']).toBe(contentType);
    const sent = server.requests('/echo').slice(before);
    expect(sent.map((r) => r.body.toString())).toEqual([expected, expected]);
  });

  it('FormData is encoded as multipart with its boundary, and replayable', async () => {
    await using client = compose().use(replayTwice).build({ baseUrl: server.url });
    const form = new FormData();
    form.set('name', 'shallot');
    form.set('file', new Blob(['contents'], { type: 'text/plain' }), 'a.txt');
    const before = server.requests('/echo').length;
    const echo = (await (await client.post('/echo', { body: form })).json()) as Echo;
    expect(echo.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(echo.body).toContain('shallot');
    expect(echo.body).toContain('contents');
    expect(server.requests('/echo').length - before).toBe(2);
  });

  it('a stream body is sent once; sending it again fails with BodyNotReplayableError, never an empty body', async () => {
    await using client = compose().use(replayTwice).build({ baseUrl: server.url });
    const before = server.requests('/echo').length;
    const error = await client.post('/echo', { body: Readable.from(['str', 'eam']) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyNotReplayableError);
    expect(isBodyNotReplayableError(error)).toBe(true);
    expect((error as BodyNotReplayableError).code).toBe('ERR_BODY_NOT_REPLAYABLE');
    const sent = server.requests('/echo').slice(before);
    expect(sent.map((r) => r.body.toString())).toEqual(['stream']);
  });

  it('a web ReadableStream and an async iterable are streamed', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const web = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('web '));
        controller.enqueue(new TextEncoder().encode('stream'));
        controller.close();
      },
    });
    expect(((await (await client.post('/echo', { body: web })).json()) as Echo).body).toBe('web stream');
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield new TextEncoder().encode('async ');
      yield new TextEncoder().encode('iterable');
    }
    expect(((await (await client.post('/echo', { body: chunks() })).json()) as Echo).body).toBe('async iterable');
  });
});

describe('abort, deadlines and close', () => {
  it("the caller's signal aborts the request in flight and rejects with the signal's reason", async () => {
    await using client = compose().build({ baseUrl: server.url });
    const controller = new AbortController();
    const before = server.hits('/hang');
    const pending = client.get('/hang', { signal: controller.signal });
    await waitFor(() => server.hits('/hang') > before);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await waitFor(() => server.requests('/hang').at(-1)?.aborted === true);
  });

  it('an already aborted signal rejects at once and sends nothing', async () => {
    await using client = compose().build({ baseUrl: server.url });
    const before = server.hits();
    const reason = new Error('too late');
    await expect(client.get('/echo', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(server.hits()).toBe(before);
  });

  it('abort reaches a layer that is sleeping', async () => {
    const sleeper = defineMiddleware(async function sleeper(ctx, next) {
      await ctx.clock.sleep(60_000, ctx.signal);
      return next();
    });
    await using client = compose().use(sleeper).build({ baseUrl: server.url });
    const controller = new AbortController();
    const pending = client.get('/echo', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop sleeping')), 20);
    const started = Date.now();
    await expect(pending).rejects.toThrow('stop sleeping');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('timeoutMs bounds the call with a total TimeoutError and sets the deadline every layer sees', async () => {
    let remaining = 0;
    let deadline: number | undefined;
    const probe = defineMiddleware(async function probe(ctx, next) {
      remaining = ctx.remainingMs();
      deadline = ctx.deadline;
      return next();
    });
    await using client = compose().use(probe).build({ baseUrl: server.url });
    const before = server.hits('/hang');
    const error = await client.get('/hang', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(isTimeoutError(error)).toBe(true);
    expect((error as TimeoutError).kind).toBe('total');
    expect((error as TimeoutError).message).toBe(`GET ${server.url}/hang: total timeout after 50 ms`);
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(50);
    expect(deadline).toBeTypeOf('number');
    expect(server.hits('/hang')).toBe(before + 1);
    await waitFor(() => server.requests('/hang').at(-1)?.aborted === true);
  });

  it('a client-wide timeoutMs applies to every request, and a request may set its own', async () => {
    await using client = compose().build({ baseUrl: server.url, timeoutMs: 40 });
    await expect(client.get('/slow')).rejects.toMatchObject({ code: 'ERR_TIMEOUT', kind: 'total' });
    const response = await client.get('/slow', { timeoutMs: 5_000 });
    expect(await response.json()).toEqual({ slow: true });
  });

  it('the deadline fires even when a layer ignores the signal', async () => {
    const deaf = defineMiddleware(async function deaf() {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return new Response('late');
    });
    await using client = compose().use(deaf).build({ baseUrl: server.url });
    const started = Date.now();
    await expect(client.get('/echo', { timeoutMs: 30 })).rejects.toMatchObject({ kind: 'total' });
    expect(Date.now() - started).toBeLessThan(250);
  });

  it('close() releases every socket and later requests reject with ERR_CLIENT_CLOSED', async () => {
    const local = await createTestServer();
    local.route('/ok', { json: { ok: true } });
    const client = compose().build({ baseUrl: local.url });
    await Promise.all([1, 2, 3].map(async () => (await client.get('/ok')).arrayBuffer()));
    expect(local.connections().open).toBeGreaterThan(0);
    await client.close();
    expect(client.closed).toBe(true);
    await waitFor(() => local.connections().open === 0);
    const error = await client.get('/ok').catch((e: unknown) => e);
    expect(isClientClosedError(error)).toBe(true);
    expect((error as Error).message).toContain('the client is closed');
    expect(local.hits('/ok')).toBe(3);
    await local.close();
  });

  it('await using closes the client', async () => {
    let outside: { closed: boolean } | undefined;
    {
      await using client = compose().build({ baseUrl: server.url });
      outside = client;
      await (await client.get('/echo')).arrayBuffer();
    }
    expect(outside.closed).toBe(true);
  });
});

describe('listeners', () => {
  it('64 concurrent requests that sleep add no abort listeners to the shared never-aborting signal', async () => {
    const { neverAbortSignal } = await import('@shallot/core');
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const napper = defineMiddleware(async function napper(ctx, next) {
        await ctx.clock.sleep(5, ctx.signal);
        return next();
      });
      await using client = compose().use(napper).build({ baseUrl: server.url });
      await Promise.all(Array.from({ length: 64 }, async () => (await client.get('/echo')).arrayBuffer()));
      const { getEventListeners } = await import('node:events');
      expect(getEventListeners(neverAbortSignal, 'abort')).toHaveLength(0);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it("a read timeout leaves no listener on the caller's long-lived signal", async () => {
    const { getEventListeners } = await import('node:events');
    const shutdown = new AbortController();
    const readBound = defineMiddleware(async function readBound(ctx, next) {
      ctx.timeouts = { ...ctx.timeouts, readMs: 5_000 };
      return next();
    });
    await using client = compose().use(readBound).build({ baseUrl: server.url });
    for (let i = 0; i < 20; i++) await (await client.get('/echo', { signal: shutdown.signal })).arrayBuffer();
    expect(getEventListeners(shutdown.signal, 'abort').length).toBeLessThanOrEqual(1);
  });
});
