import { cache, type CacheRecord, type CacheStore } from '@shallot/cache';
import { addCredentialHeader, compose, defineMiddleware } from '@shallot/core';
import { createTestServer, type TestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

/** The upstream of the reproduction: a personal page per session, explicitly cacheable. */
function personalPages(server: TestServer): void {
  server.route('/me', (request, response) => {
    const who = String(request.headers.cookie ?? request.headers['x-api-key'] ?? request.headers['x-partner-key'] ?? 'nobody');
    response.writeHead(200, { 'cache-control': 'max-age=60', 'set-cookie': `session=SESSION-FOR-${who}`, 'content-type': 'text/plain' });
    response.end(`data for ${who}`);
  });
}

/** A store that keeps records as JSON, so tests can search everything stored for a secret. */
function jsonStore(): CacheStore & { dump(): string } {
  const saved = new Map<string, string>();
  return {
    get(key) {
      const text = saved.get(key);
      if (text === undefined) return undefined;
      const record = JSON.parse(text) as CacheRecord & { body?: string };
      return record.kind === 'response' ? { ...record, body: new Uint8Array(Buffer.from(record.body as unknown as string, 'base64')) } : record;
    },
    set(key, record) {
      saved.set(key, JSON.stringify(record.kind === 'response' ? { ...record, body: Buffer.from(record.body).toString('base64') } : record));
    },
    delete(key) {
      saved.delete(key);
    },
    dump: () => JSON.stringify([...saved]),
  };
}

describe('credentials partition the cache (issue 11, defect 1)', () => {
  it('the reproduction: alice (Cookie sid=ALICE) and bob (Cookie sid=BOB) never see each other’s entries', async () => {
    await using server = await createTestServer();
    personalPages(server);
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const as = async (cookie: string) => {
      const { response, context } = await client.exchange('GET', '/me', { headers: { cookie } });
      return { status: context.cache.status, body: await response.text(), setCookie: response.headers.get('set-cookie') };
    };
    expect(await as('sid=ALICE')).toEqual({ status: 'MISS', body: 'data for sid=ALICE', setCookie: 'session=SESSION-FOR-sid=ALICE' });
    expect(await as('sid=BOB')).toEqual({ status: 'MISS', body: 'data for sid=BOB', setCookie: 'session=SESSION-FOR-sid=BOB' });
    // Each gets their own entry back, and a stored Set-Cookie is replayed to no one, not even them.
    expect(await as('sid=ALICE')).toEqual({ status: 'HIT', body: 'data for sid=ALICE', setCookie: null });
    expect(await as('sid=BOB')).toEqual({ status: 'HIT', body: 'data for sid=BOB', setCookie: null });
    expect(server.hits('/me')).toBe(2);
  });

  it('keeps X-API-Key callers apart, and apart from callers without credentials', async () => {
    await using server = await createTestServer();
    personalPages(server);
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const body = async (headers: Record<string, string>) => (await client.get('/me', { headers })).text();
    expect(await body({ 'x-api-key': 'KEY-A' })).toBe('data for KEY-A');
    expect(await body({ 'x-api-key': 'KEY-B' })).toBe('data for KEY-B');
    expect(await body({})).toBe('data for nobody');
    expect(await body({ 'x-api-key': 'KEY-A' })).toBe('data for KEY-A');
    expect(await body({})).toBe('data for nobody');
    expect(server.hits('/me')).toBe(3);
  });

  it('partitions by the client’s own credentialHeaders and by a header an auth layer registered', async () => {
    await using server = await createTestServer();
    personalPages(server);
    await using configured = compose().use(cache()).build({ baseUrl: server.url, credentialHeaders: ['X-Partner-Key'] });
    expect(await (await configured.get('/me', { headers: { 'x-partner-key': 'P1' } })).text()).toBe('data for P1');
    expect(await (await configured.get('/me', { headers: { 'x-partner-key': 'P2' } })).text()).toBe('data for P2');

    // An auth layer inside the cache sets its header per request and registers it.
    let key = 'P3';
    const partnerAuth = defineMiddleware(async function partnerAuth(ctx, next) {
      ctx.request.headers.set('x-partner-key', key);
      addCredentialHeader(ctx, 'x-partner-key');
      return next();
    });
    await using registered = compose().use(partnerAuth).use(cache()).build({ baseUrl: server.url });
    expect(await (await registered.get('/me')).text()).toBe('data for P3');
    key = 'P4';
    expect(await (await registered.get('/me')).text()).toBe('data for P4');
    key = 'P3';
    expect(await (await registered.get('/me')).text()).toBe('data for P3');
    expect(server.hits('/me')).toBe(4);
  });

  it('partitions in shared mode too, where Authorization also follows RFC 9111 §3.5', async () => {
    await using server = await createTestServer();
    personalPages(server);
    server.route('/public', (request, response) => {
      response.writeHead(200, { 'cache-control': 'public, max-age=60' });
      response.end(`public for ${String(request.headers.authorization ?? request.headers.cookie ?? 'nobody')}`);
    });
    server.route('/authorized', (request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60' });
      response.end(`for ${String(request.headers.authorization)}`);
    });
    const layer = cache({ shared: true });
    await using client = compose().use(layer).build({ baseUrl: server.url });
    const body = async (path: string, headers: Record<string, string>) => (await client.get(path, { headers })).text();
    // A response that sets a cookie is not stored by a shared cache unless public.
    expect(await body('/me', { cookie: 'sid=ALICE' })).toBe('data for sid=ALICE');
    expect(await body('/me', { cookie: 'sid=ALICE' })).toBe('data for sid=ALICE');
    expect(server.hits('/me')).toBe(2);
    // Public responses are stored, per credentials.
    expect(await body('/public', { cookie: 'sid=ALICE' })).toBe('public for sid=ALICE');
    expect(await body('/public', { cookie: 'sid=BOB' })).toBe('public for sid=BOB');
    expect(await body('/public', { cookie: 'sid=ALICE' })).toBe('public for sid=ALICE');
    expect(server.hits('/public')).toBe(2);
    // Without public, s-maxage or must-revalidate, a response to Authorization is not stored.
    expect(await body('/authorized', { authorization: 'Bearer A' })).toBe('for Bearer A');
    expect(await body('/authorized', { authorization: 'Bearer A' })).toBe('for Bearer A');
    expect(server.hits('/authorized')).toBe(2);
  });

  it('never stores a secret: keys carry a digest, a Vary on Cookie only its presence, and Set-Cookie is dropped', async () => {
    await using server = await createTestServer();
    server.route('/varies', (_request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Cookie, Accept', 'set-cookie': 'token=SECRET-COOKIE-VALUE' });
      response.end('hello');
    });
    const store = jsonStore();
    await using client = compose().use(cache({ store })).build({ baseUrl: server.url });
    const headers = { cookie: 'sid=ALICE-SECRET', authorization: 'Bearer BEARER-SECRET', 'x-api-key': 'API-KEY-SECRET', accept: 'text/plain' };
    expect(await (await client.get('/varies', { headers })).text()).toBe('hello');
    const hit = await client.exchange('GET', '/varies', { headers });
    expect(hit.context.cache.status).toBe('HIT');
    expect(await hit.response.text()).toBe('hello');
    const everything = store.dump();
    expect(everything).toContain('text/plain');
    for (const secret of ['ALICE-SECRET', 'BEARER-SECRET', 'API-KEY-SECRET', 'SECRET-COOKIE-VALUE']) expect(everything).not.toContain(secret);
  });
});
