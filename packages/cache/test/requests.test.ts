import { cache, type CacheStore, memoryCacheStore } from '@shallot/cache';
import { compose, isInvalidOptionsError } from '@shallot/core';
import { createTestServer, virtualClock } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const fresh = { 'cache-control': 'max-age=60' };

describe('invalidation by unsafe methods', () => {
  it('a successful POST invalidates the URL', async () => {
    await using server = await createTestServer();
    server.route('/items', (request, response) => {
      response.writeHead(request.method === 'POST' ? 201 : 200, fresh);
      response.end(request.method);
    });
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url });
    await (await client.get('/items')).text();
    await (await client.get('/items', { headers: { authorization: 'Bearer b' } })).text();
    expect((await client.exchange('GET', '/items')).context.cache.status).toBe('HIT');
    expect(layer.stats().entries).toBe(2);
    const post = await client.exchange('POST', '/items', { json: { name: 'x' } });
    expect(post.context.cache.status).toBe('BYPASS');
    expect(post.response.headers.get('x-cache')).toBe('BYPASS');
    expect(layer.stats().entries).toBe(0);
    expect((await client.exchange('GET', '/items')).context.cache.status).toBe('MISS');
    expect((await client.exchange('GET', '/items', { headers: { authorization: 'Bearer b' } })).context.cache.status).toBe('MISS');
    expect(server.requests('/items').map((r) => r.method)).toEqual(['GET', 'GET', 'POST', 'GET', 'GET']);
  });

  it('PUT, PATCH and DELETE invalidate; a failed one does not', async () => {
    await using server = await createTestServer();
    server.route('/doc', (request, response) => {
      response.writeHead(request.headers['x-fail'] === '1' ? 409 : 200, fresh);
      response.end(request.method);
    });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/doc')).text();
    await (await client.put('/doc', { body: 'x', headers: { 'x-fail': '1' } })).text();
    expect((await client.exchange('GET', '/doc')).context.cache.status).toBe('HIT');
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      await (await client.request(method, '/doc', { body: 'x' })).text();
      expect((await client.exchange('GET', '/doc')).context.cache.status, method).toBe('MISS');
    }
  });

  it('invalidates Location and Content-Location of the same origin, not of another', async () => {
    await using server = await createTestServer();
    await using other = await createTestServer();
    for (const path of ['/items/7', '/items/8']) server.route(path, { body: path, headers: fresh });
    other.route('/items/9', { body: 'other', headers: fresh });
    server.route('/items', {
      status: 201,
      headers: { location: '/items/7', 'content-location': `${server.url}/items/8` },
    });
    server.route('/move', { status: 200, headers: { location: `${other.url}/items/9` } });
    await using client = compose().use(cache()).build();
    for (const url of [`${server.url}/items/7`, `${server.url}/items/8`, `${other.url}/items/9`]) await (await client.get(url)).text();
    await (await client.post(`${server.url}/items`, { json: {} })).text();
    await (await client.post(`${server.url}/move`, { json: {} })).text();
    expect((await client.exchange('GET', `${server.url}/items/7`)).context.cache.status).toBe('MISS');
    expect((await client.exchange('GET', `${server.url}/items/8`)).context.cache.status).toBe('MISS');
    expect((await client.exchange('GET', `${other.url}/items/9`)).context.cache.status).toBe('HIT');
  });
});

describe('fetch cache modes', () => {
  it('only-if-cached answers 504 without sending when nothing is cached', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/items', { cache: 'only-if-cached' });
    expect(response.status).toBe(504);
    expect(context.cache.status).toBe('MISS');
    expect(server.hits()).toBe(0);
  });

  it('only-if-cached and force-cache serve a stale entry without sending', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, etag: '"e"', headers: { 'cache-control': 'max-age=1' } });
    const clock = virtualClock();
    await using client = compose().use(cache()).build({ baseUrl: server.url, clock });
    await (await client.get('/items')).json();
    await clock.advance(5_000);
    for (const mode of ['only-if-cached', 'force-cache'] as const) {
      const { response, context } = await client.exchange('GET', '/items', { cache: mode });
      expect(context.cache.status).toBe('STALE');
      expect(context.cache.staleReason).toBe('force-cache');
      expect(await response.json()).toEqual({ n: 1 });
    }
    expect(server.hits('/items')).toBe(1);
  });

  it('no-store neither reads nor writes the cache, and tells caches upstream', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, headers: fresh });
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url });
    const { context } = await client.exchange('GET', '/items', { cache: 'no-store' });
    expect(context.cache.status).toBe('BYPASS');
    expect(server.requests('/items')[0]?.headers).toMatchObject({ pragma: 'no-cache', 'cache-control': 'no-cache' });
    expect(layer.stats().entries).toBe(0);
    await (await client.get('/items')).json();
    expect((await client.exchange('GET', '/items', { cache: 'no-store' })).context.cache.status).toBe('BYPASS');
    expect(server.hits('/items')).toBe(3);
  });

  it('reload sends unconditionally and stores the new response', async () => {
    await using server = await createTestServer();
    server.route('/items', [
      { json: { n: 1 }, etag: '"1"', headers: fresh },
      { json: { n: 2 }, etag: '"2"', headers: fresh },
    ]);
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const reload = await client.exchange('GET', '/items', { cache: 'reload' });
    expect(reload.context.cache.status).toBe('MISS');
    expect(await reload.response.json()).toEqual({ n: 2 });
    expect(server.requests('/items')[1]?.headers['if-none-match']).toBeUndefined();
    expect(server.requests('/items')[1]?.headers['cache-control']).toBe('no-cache');
    const after = await client.exchange('GET', '/items');
    expect(after.context.cache.status).toBe('HIT');
    expect(await after.response.json()).toEqual({ n: 2 });
  });

  it('no-cache revalidates even a fresh entry', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, etag: '"1"', headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const { response, context } = await client.exchange('GET', '/items', { cache: 'no-cache' });
    expect(context.cache.status).toBe('REVALIDATED');
    expect(await response.json()).toEqual({ n: 1 });
    expect(server.requests('/items')[1]?.headers).toMatchObject({ 'if-none-match': '"1"', 'cache-control': 'max-age=0' });
  });

  it('honours the request’s own Cache-Control', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const { context } = await client.exchange('GET', '/items', { headers: { 'cache-control': 'no-cache' } });
    expect(context.cache.status).toBe('MISS');
    expect(server.hits('/items')).toBe(2);
  });
});

describe('what passes through', () => {
  it('lets the caller’s own conditional requests and ranges it cannot parse through untouched', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, etag: '"1"', headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const conditional = await client.exchange('GET', '/items', { headers: { 'if-none-match': '"1"' } });
    expect(conditional.response.status).toBe(304);
    expect(conditional.context.cache.status).toBe('BYPASS');
    const ranges = await client.exchange('GET', '/items', { headers: { range: 'bytes=0-0,2-3' } });
    expect(ranges.context.cache.status).toBe('BYPASS');
    expect(server.hits('/items')).toBe(3);
  });

  it('answers a HEAD from a stored GET response, and caches HEAD responses of their own', async () => {
    await using server = await createTestServer();
    server.route('/items', { body: 'body', headers: fresh });
    server.route('/only-head', { body: 'body', headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).text();
    const head = await client.exchange('HEAD', '/items');
    expect(head.context.cache.status).toBe('HIT');
    expect(head.response.body).toBeNull();
    expect(await head.response.text()).toBe('');
    expect(server.hits('/items')).toBe(1);

    expect((await client.exchange('HEAD', '/only-head')).context.cache.status).toBe('MISS');
    const again = await client.exchange('HEAD', '/only-head');
    expect(again.context.cache.status).toBe('HIT');
    // A HEAD response has no body to give a GET.
    expect((await client.exchange('GET', '/only-head')).context.cache.status).toBe('MISS');
    expect(server.requests('/only-head').map((r) => r.method)).toEqual(['HEAD', 'GET']);

    await using getOnly = compose().use(cache({ methods: ['GET'] })).build({ baseUrl: server.url });
    await (await getOnly.head('/items')).text();
    expect((await getOnly.exchange('HEAD', '/items')).context.cache.status).toBe('BYPASS');
  });

  it('does not store a response reached through a redirect', async () => {
    await using server = await createTestServer();
    server.route('/latest', { status: 302, headers: { location: '/v2', 'cache-control': 'no-store' } });
    server.route('/v2', { body: 'v2', headers: fresh });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    expect(await (await client.get('/latest')).text()).toBe('v2');
    expect(await (await client.get('/latest')).text()).toBe('v2');
    expect(server.hits('/latest')).toBe(2);
  });
});

describe('size', () => {
  it('streams a body above maxEntryBytes through without storing it', async () => {
    await using server = await createTestServer();
    const big = 'x'.repeat(64 * 1024);
    server.route('/big', { body: big, headers: fresh });
    server.route('/chunked', { chunks: ['a'.repeat(600), 'b'.repeat(600), 'c'.repeat(600)], chunkDelayMs: 5, headers: fresh });
    const layer = cache({ maxEntryBytes: 1_000 });
    await using client = compose().use(layer).build({ baseUrl: server.url });
    for (const [path, body] of [['/big', big], ['/chunked', `${'a'.repeat(600)}${'b'.repeat(600)}${'c'.repeat(600)}`]] as const) {
      for (let i = 0; i < 2; i++) {
        const { response, context } = await client.exchange('GET', path);
        expect(context.cache.status).toBe('MISS');
        expect(await response.text()).toBe(body);
      }
      expect(server.hits(path)).toBe(2);
    }
    expect(layer.stats().entries).toBe(0);
  });

  it('evicts the least recently used entries past maxSizeBytes', async () => {
    await using server = await createTestServer();
    for (const name of ['a', 'b', 'c']) server.route(`/${name}`, { body: name.repeat(1_000), headers: fresh });
    // Room for two of them: each costs its 1,000 bytes of body and about 1.8 KB more.
    const layer = cache({ maxSizeBytes: 7_000 });
    await using client = compose().use(layer).build({ baseUrl: server.url });
    const status = async (path: string) => {
      const { response, context } = await client.exchange('GET', path);
      await response.text();
      return context.cache.status;
    };
    expect(await status('/a')).toBe('MISS');
    expect(await status('/b')).toBe('MISS');
    expect(await status('/a')).toBe('HIT');
    expect(await status('/c')).toBe('MISS');
    expect(await status('/a')).toBe('HIT');
    expect(await status('/b')).toBe('MISS');
    const { bytes, entries } = layer.stats();
    expect(bytes).toBeLessThanOrEqual(7_000);
    expect(entries).toBe(2);
  });

  it('clear() forgets everything', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, headers: fresh });
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    await layer.clear();
    expect(layer.stats().entries).toBe(0);
    expect((await client.exchange('GET', '/items')).context.cache.status).toBe('MISS');
  });
});

describe('stores', () => {
  it('works with a store that answers asynchronously, and clear() without a store clear()', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, headers: fresh });
    const records = new Map<string, unknown>();
    const store: CacheStore = {
      get: async (key) => structuredClone(records.get(key)) as never,
      set: async (key, record) => void records.set(key, structuredClone(record)),
      delete: async (key) => void records.delete(key),
    };
    const layer = cache({ store });
    await using client = compose().use(layer).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const hit = await client.exchange('GET', '/items');
    expect(hit.context.cache.status).toBe('HIT');
    expect(await hit.response.json()).toEqual({ n: 1 });
    expect(layer.stats().entries).toBeUndefined();
    await layer.clear();
    expect((await client.exchange('GET', '/items')).context.cache.status).toBe('MISS');
    expect(server.hits('/items')).toBe(2);
  });

  it('never fails a request because the store fails', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, headers: fresh });
    const broken: CacheStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      delete: () => Promise.reject(new Error('store down')),
    };
    const warnings: string[] = [];
    const warn = (fields: object | string, message?: string): void => {
      warnings.push(typeof fields === 'string' ? fields : String(message));
    };
    const logger = { debug() {}, info() {}, error() {}, warn };
    await using client = compose().use(cache({ store: broken })).build({ baseUrl: server.url, logger });
    for (let i = 0; i < 2; i++) expect(await (await client.get('/items')).json()).toEqual({ n: 1 });
    await (await client.post('/items')).arrayBuffer();
    expect(server.hits('/items')).toBe(3);
    expect(warnings.some((w) => w.includes('store read failed'))).toBe(true);
  });

  it('memoryCacheStore can be shared by two caches', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, headers: fresh });
    const store = memoryCacheStore({ maxSizeBytes: 1024 * 1024 });
    await using a = compose().use(cache({ store })).build({ baseUrl: server.url });
    await using b = compose().use(cache({ store })).build({ baseUrl: server.url });
    await (await a.get('/items')).json();
    expect((await b.exchange('GET', '/items')).context.cache.status).toBe('HIT');
  });
});

describe('lifecycle and options', () => {
  it('close() stops a background revalidation that hangs', async () => {
    await using server = await createTestServer();
    server.route('/feed', [{ json: {}, headers: { 'cache-control': 'max-age=1, stale-while-revalidate=60' } }, { action: 'hang' }]);
    const clock = virtualClock();
    const client = compose().use(cache()).build({ baseUrl: server.url, clock });
    await (await client.get('/feed')).json();
    await clock.advance(2_000);
    const { context } = await client.exchange('GET', '/feed');
    expect(context.cache.status).toBe('STALE');
    let settled = false;
    void context.cache.revalidation?.then(() => (settled = true));
    for (let i = 0; i < 200 && server.hits('/feed') < 2; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(server.hits('/feed')).toBe(2);
    expect(settled).toBe(false);
    await client.close();
    expect(settled).toBe(true);
    for (let i = 0; i < 200 && server.requests('/feed')[1]?.aborted !== true; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(server.requests('/feed')[1]?.aborted).toBe(true);
  });

  it('describes itself with its resolved options', async () => {
    await using client = compose().use(cache({ shared: true })).build();
    const [layer] = client.describe();
    expect(layer).toMatchObject({
      name: 'cache',
      options: { shared: true, staleWhileRevalidate: true, coalesce: true, methods: ['GET', 'HEAD'], maxSizeBytes: 50 * 1024 * 1024, maxEntryBytes: 5 * 1024 * 1024 },
    });
  });

  it('rejects bad options at construction, naming them', () => {
    const attempts: [unknown, string][] = [
      [{ maxSizeBytes: -1 }, 'cache.maxSizeBytes'],
      [{ methods: ['POST'] }, 'cache.methods.0'],
      [{ store: {} }, 'cache.store'],
      [{ maxEntryBytes: 2_000, maxSizeBytes: 1_000 }, 'cache.maxEntryBytes'],
      [{ ttl: 5 }, 'cache'],
    ];
    for (const [options, path] of attempts) {
      let caught: unknown;
      try {
        cache(options as never);
      } catch (error) {
        caught = error;
      }
      expect(isInvalidOptionsError(caught), path).toBe(true);
      expect(String((caught as Error).message)).toContain(path);
    }
    expect(() => memoryCacheStore({ maxSizeBytes: 0 })).toThrow('memoryCacheStore.maxSizeBytes');
  });
});
