import { createServer, type Server, type Socket } from 'node:net';
import {
  compose,
  isInvalidOptionsError,
  isNetworkError,
  LazyResponse,
  NetworkError,
  nodeFetchTransport,
  type Transport,
  TimeoutError,
  undiciTransport,
} from '@shallot/core';
import { createTestServer, type TestServer, waitFor } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: TestServer;
let other: TestServer;
beforeAll(async () => {
  server = await createTestServer();
  other = await createTestServer();
  server.route('/json', { json: { hello: 'world' }, headers: { 'set-cookie': ['a=1', 'b=2'], 'x-multi': 'one' } });
  server.route('/no-content', { status: 204 });
  server.route('/reset', { action: 'reset' });
  server.route('/hang', { action: 'hang' });
  server.route('/truncated', { action: 'truncate', body: 'partial body' });
  server.route('/slow-body', { chunks: ['a', 'b', 'c'], chunkDelayMs: 150 });
  server.route('/chunks', { chunks: ['one ', 'two ', 'three'], chunkDelayMs: 1 });
  server.route('/echo', (request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ method: request.method, body: request.body.toString(), headers: request.headers }));
  });
  server.route('/redirect/302', { status: 302, headers: { location: '/echo' } });
  server.route('/redirect/303', { status: 303, headers: { location: '/echo' } });
  server.route('/redirect/307', { status: 307, headers: { location: '/echo' } });
  server.route('/redirect/loop', { status: 302, headers: { location: '/redirect/loop' } });
  server.route('/redirect/other', (_request, response) => {
    response.writeHead(302, { location: `${other.url}/echo` });
    response.end();
  });
  server.route('/delay', { delayMs: 20, json: { ok: true } });
  other.route('/echo', (request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ method: request.method, headers: request.headers }));
  });
});
afterAll(async () => {
  await server.close();
  await other.close();
});

/** A TCP server that accepts and never speaks: a TLS handshake against it never completes. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        tcp.close(() => resolve());
      }),
  };
}

async function closedPort(): Promise<number> {
  const tcp = createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as { port: number }).port;
  await new Promise<void>((resolve) => tcp.close(() => resolve()));
  return port;
}

const transports: Array<[string, (options?: { maxSockets?: number; maxOrigins?: number }) => Transport]> = [
  ['undici', (options) => undiciTransport(options)],
  ['node-fetch', (options) => nodeFetchTransport(options)],
];

describe.each(transports)('%s transport', (name, make) => {
  it('returns a global Response whose members behave as the Fetch standard says', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const response = await client.get('/json');
    expect(response).toBeInstanceOf(Response);
    expect(response).toBeInstanceOf(LazyResponse);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('OK');
    expect(response.url).toBe(`${server.url}/json`);
    expect(response.redirected).toBe(false);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual({ hello: 'world' });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(client.describe().at(-1)?.name).toBe(name);
  });

  it('reads the body as text, bytes, blob, a stream, and through clone()', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    expect(await (await client.get('/chunks')).text()).toBe('one two three');
    expect(new TextDecoder().decode(await (await client.get('/chunks')).arrayBuffer())).toBe('one two three');
    expect(await (await (await client.get('/chunks')).blob()).text()).toBe('one two three');
    const streamed = await client.get('/chunks');
    let text = '';
    for await (const chunk of streamed.body as ReadableStream<Uint8Array>) text += new TextDecoder().decode(chunk);
    expect(text).toBe('one two three');
    expect(streamed.bodyUsed).toBe(true);
    const original = await client.get('/json');
    const copy = original.clone();
    expect(copy).toBeInstanceOf(Response);
    expect(copy.headers.get('x-multi')).toBe('one');
    expect(await copy.json()).toEqual({ hello: 'world' });
    expect(await original.json()).toEqual({ hello: 'world' });
  });

  it('cancelling a body nobody read frees it without an unhandled error', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const response = await client.get('/chunks');
    await response.body?.cancel();
    expect(response.bodyUsed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await (await client.get('/json')).json()).toEqual({ hello: 'world' });
  });

  it('a body that is not JSON rejects json() with a SyntaxError, not a network error', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const response = await client.get('/chunks');
    await expect(response.json()).rejects.toBeInstanceOf(SyntaxError);
  });

  it('refuses a status outside 100-599 as a protocol error (NetworkError)', async () => {
    const local = await createTestServer();
    local.route('/odd', { status: 642, body: 'odd' });
    local.route('/odder', { status: 999, body: 'odd' });
    // Refused while its body is still arriving: no unhandled error event may escape.
    local.route('/oddest', { status: 999, chunks: ['a', 'b', 'c'], chunkDelayMs: 20 });
    try {
      await using client = compose().build({ baseUrl: local.url, transport: make() });
      for (const path of ['/odd', '/odder', '/oddest']) {
        await expect(client.get(path)).rejects.toMatchObject({ code: 'ERR_NETWORK', message: expect.stringContaining('invalid status') });
      }
    } finally {
      await local.close();
    }
  });

  it('gives 204 responses a null body', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const response = await client.get('/no-content');
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
    expect(await response.text()).toBe('');
  });

  it('turns a refused connection into NetworkError with the socket error as cause', async () => {
    const port = await closedPort();
    await using client = compose().build({ transport: make() });
    const error = await client.get(`http://127.0.0.1:${port}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(isNetworkError(error)).toBe(true);
    expect((error as NetworkError).code).toBe('ERR_NETWORK');
    expect((error as NetworkError).message).toContain(`GET http://127.0.0.1:${port}/x: `);
    expect(JSON.stringify((error as NetworkError).cause, Object.getOwnPropertyNames((error as Error).cause ?? {}))).toContain('ECONNREFUSED');
  });

  it('turns a reset socket into NetworkError', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    await expect(client.get('/reset')).rejects.toMatchObject({ code: 'ERR_NETWORK' });
  });

  it('turns a truncated body into NetworkError when it is read', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const response = await client.get('/truncated');
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toMatchObject({ code: 'ERR_NETWORK' });
  });

  it("turns a connect timeout into TimeoutError of kind 'connect'", async () => {
    const silent = await silentServer();
    try {
      const transport = name === 'undici' ? undiciTransport({ connectTimeoutMs: 100 }) : nodeFetchTransport({ connectTimeoutMs: 100 });
      await using client = compose().build({ transport });
      const started = Date.now();
      const error = await client.get(`https://127.0.0.1:${silent.port}/`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).kind).toBe('connect');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  });

  it("a read timeout bounds the wait for headers and each idle gap in the body (kind 'read')", async () => {
    const readTimeout = (ms: number) =>
      // A tiny layer standing in for timeout({ readMs }) so core is tested on its own.
      async function readTimeout(ctx: { timeouts: { readMs?: number } }, next: () => Promise<Response>) {
        ctx.timeouts = { ...ctx.timeouts, readMs: ms };
        return next();
      };
    await using client = compose().use(readTimeout(60)).build({ baseUrl: server.url, transport: make() });
    await expect(client.get('/hang')).rejects.toMatchObject({ code: 'ERR_TIMEOUT', kind: 'read' });
    const slow = await client.get('/slow-body');
    await expect(slow.text()).rejects.toMatchObject({ code: 'ERR_TIMEOUT', kind: 'read' });
    expect(await (await client.get('/delay')).json()).toEqual({ ok: true });
  });

  it('follows redirects as fetch does: 302/303 become GET, 307 keeps method and body', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const r302 = await client.post('/redirect/302', { body: 'payload' });
    expect(r302.redirected).toBe(true);
    expect(r302.url).toBe(`${server.url}/echo`);
    expect(await r302.json()).toMatchObject({ method: 'GET', body: '' });
    expect(await (await client.put('/redirect/303', { body: 'payload' })).json()).toMatchObject({ method: 'GET', body: '' });
    expect(await (await client.post('/redirect/307', { body: 'payload' })).json()).toMatchObject({ method: 'POST', body: 'payload' });
  });

  it("redirect: 'manual' returns the redirect; a loop fails with NetworkError", async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const manual = await client.get('/redirect/302', { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('/echo');
    await manual.arrayBuffer();
    await expect(client.get('/redirect/loop')).rejects.toMatchObject({ code: 'ERR_NETWORK' });
  });

  it('drops Authorization and Cookie when a redirect crosses origins', async () => {
    await using client = compose().build({ baseUrl: server.url, transport: make() });
    const echo = (await (await client.get('/redirect/other', { headers: { authorization: 'Bearer secret', cookie: 'c=1', 'x-keep': 'yes' } })).json()) as {
      headers: Record<string, string>;
    };
    expect(echo.headers.authorization).toBeUndefined();
    expect(echo.headers.cookie).toBeUndefined();
    expect(echo.headers['x-keep']).toBe('yes');
  });

  it('pools keep-alive connections per origin, at most maxSockets of them', async () => {
    const local = await createTestServer();
    local.route('/delay', { delayMs: 20, json: { ok: true } });
    try {
      await using client = compose().build({ baseUrl: local.url, transport: make({ maxSockets: 2 }) });
      await Promise.all(Array.from({ length: 12 }, async () => (await client.get('/delay')).json()));
      await Promise.all(Array.from({ length: 6 }, async () => (await client.get('/delay')).json()));
      expect(local.hits('/delay')).toBe(18);
      expect(local.connections().opened).toBeLessThanOrEqual(2);
      const stats = client.transport.stats?.();
      expect(stats?.origins).toBe(1);
      expect(stats?.connected).toBeLessThanOrEqual(2);
    } finally {
      await local.close();
    }
  });

  it('validates its options at construction, naming the option and the value', () => {
    const error = (() => {
      try {
        make({ maxSockets: 0 });
      } catch (e) {
        return e;
      }
    })();
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toMatch(/Transport\.maxSockets: expected a number >= 1, got 0$/);
  });
});

describe('node-fetch transport specifics', () => {
  it('closes sockets idle in the pool for keepAliveMs, and reuses them before that', async () => {
    const local = await createTestServer();
    local.route('/ok', { json: { ok: true } });
    try {
      await using client = compose().build({ baseUrl: local.url, transport: nodeFetchTransport({ keepAliveMs: 150 }) });
      for (let i = 0; i < 5; i++) await (await client.get('/ok')).json();
      expect(local.connections().opened).toBe(1);
      await waitFor(() => local.connections().open === 0);
      expect(client.transport.stats?.().connected).toBe(0);
    } finally {
      await local.close();
    }
  });
});

describe('undici transport specifics', () => {
  it('keeps at most maxOrigins origin pools, closing the least recently used', async () => {
    const servers = await Promise.all([createTestServer(), createTestServer(), createTestServer()]);
    try {
      for (const s of servers) s.route('/ok', { json: { ok: true } });
      await using client = compose().build({ transport: undiciTransport({ maxOrigins: 2 }) });
      for (const s of servers) await (await client.get(`${s.url}/ok`)).json();
      expect(client.transport.stats?.().origins).toBe(2);
      await waitFor(() => (servers[0] as TestServer).connections().open === 0);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it('never installs or uses the global dispatcher, so the user’s own fetch is untouched', async () => {
    const globalKey = Symbol.for('undici.globalDispatcher.1');
    const before = (globalThis as Record<symbol, unknown>)[globalKey];
    await using client = compose().build({ baseUrl: server.url });
    await (await client.get('/json')).json();
    expect((globalThis as Record<symbol, unknown>)[globalKey]).toBe(before);
  });
});

