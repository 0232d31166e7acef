import { cache } from '@shallot/cache';
import { compose, defineMiddleware, ShallotError } from '@shallot/core';
import { createTestServer, type TestServer, virtualClock } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

function clientOf(server: TestServer, layer = cache(), clock = virtualClock()) {
  return { client: compose().use(layer).build({ baseUrl: server.url, clock }), clock, layer };
}

describe('freshness', () => {
  it('serves a fresh max-age response without sending anything', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, headers: { 'cache-control': 'max-age=60' } });
    const { client, layer } = clientOf(server);
    await using _ = client;

    const first = await client.exchange('GET', '/items');
    expect(first.context.cache.status).toBe('MISS');
    expect(first.response.headers.get('x-cache')).toBe('MISS');
    expect(await first.response.json()).toEqual({ n: 1 });

    const second = await client.exchange('GET', '/items');
    expect(second.context.cache.status).toBe('HIT');
    expect(second.response.headers.get('x-cache')).toBe('HIT');
    expect(second.response.headers.get('age')).toBe('0');
    expect(second.response).toBeInstanceOf(Response);
    expect(await second.response.json()).toEqual({ n: 1 });

    expect(server.hits('/items')).toBe(1);
    expect(layer.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
  });

  it('gives every caller a body of its own', async () => {
    await using server = await createTestServer();
    server.route('/items', { body: 'hello', headers: { 'cache-control': 'max-age=60' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/items')).text();
    const a = await client.get('/items');
    const b = await client.get('/items');
    const bytes = new Uint8Array(await a.arrayBuffer());
    bytes[0] = 0x4a;
    expect(await b.text()).toBe('hello');
    const c = await client.get('/items');
    const chunks: string[] = [];
    for await (const chunk of c.body as ReadableStream<Uint8Array>) chunks.push(new TextDecoder().decode(chunk));
    expect(chunks.join('')).toBe('hello');
    expect(server.hits('/items')).toBe(1);
  });

  it('revalidates an expired entry with If-None-Match and serves the 304-refreshed entry', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, etag: '"v1"', headers: { 'cache-control': 'max-age=1' } });
    const { client, clock } = clientOf(server);
    await using _ = client;

    await (await client.get('/items')).json();
    await clock.advance(2_000);
    const revalidated = await client.exchange('GET', '/items');
    expect(revalidated.context.cache.status).toBe('REVALIDATED');
    expect(revalidated.response.status).toBe(200);
    expect(await revalidated.response.json()).toEqual({ n: 1 });
    expect(server.requests('/items')[1]?.headers['if-none-match']).toBe('"v1"');

    // The 304 made the entry fresh again.
    const after = await client.exchange('GET', '/items');
    expect(after.context.cache.status).toBe('HIT');
    expect(server.hits('/items')).toBe(2);
  });

  it('revalidates with If-Modified-Since when there is only a Last-Modified', async () => {
    await using server = await createTestServer();
    const lastModified = new Date(Date.now() - 3_600_000).toUTCString();
    server.route('/doc', { body: 'doc', lastModified, headers: { 'cache-control': 'max-age=1' } });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/doc')).text();
    await clock.advance(2_000);
    const { response, context } = await client.exchange('GET', '/doc');
    expect(context.cache.status).toBe('REVALIDATED');
    expect(await response.text()).toBe('doc');
    expect(server.requests('/doc')[1]?.headers['if-modified-since']).toBe(lastModified);
  });

  it('replaces the entry when the revalidation brings a new body', async () => {
    await using server = await createTestServer();
    server.route('/items', [
      { json: { n: 1 }, etag: '"v1"', headers: { 'cache-control': 'max-age=1' } },
      { json: { n: 2 }, etag: '"v2"', headers: { 'cache-control': 'max-age=60' } },
    ]);
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/items')).json();
    await clock.advance(2_000);
    const second = await client.exchange('GET', '/items');
    expect(second.context.cache.status).toBe('MISS');
    expect(await second.response.json()).toEqual({ n: 2 });
    const third = await client.exchange('GET', '/items');
    expect(third.context.cache.status).toBe('HIT');
    expect(await third.response.json()).toEqual({ n: 2 });
    expect(server.hits('/items')).toBe(2);
  });

  it('never stores a no-store response', async () => {
    await using server = await createTestServer();
    server.route('/live', { json: { n: 1 }, headers: { 'cache-control': 'no-store' } });
    const { client, layer } = clientOf(server);
    await using _ = client;
    for (let i = 0; i < 3; i++) {
      const { response, context } = await client.exchange('GET', '/live');
      expect(context.cache.status).toBe('MISS');
      expect(await response.json()).toEqual({ n: 1 });
    }
    expect(server.hits('/live')).toBe(3);
    expect(layer.stats().entries).toBe(0);
  });

  it('serves a fresh must-revalidate entry without revalidating (kornelski/http-cache-semantics#54)', async () => {
    await using server = await createTestServer();
    server.route('/strict', { json: { n: 1 }, etag: '"s"', headers: { 'cache-control': 'max-age=60, must-revalidate' } });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/strict')).json();
    const fresh = await client.exchange('GET', '/strict');
    expect(fresh.context.cache.status).toBe('HIT');
    expect(server.hits('/strict')).toBe(1);
    await clock.advance(61_000);
    const stale = await client.exchange('GET', '/strict');
    expect(stale.context.cache.status).toBe('REVALIDATED');
    expect(server.hits('/strict')).toBe(2);
  });

  it('does not store a response without freshness or validators, unless defaultTtlMs gives it one', async () => {
    await using server = await createTestServer();
    server.route('/plain', { json: { n: 1 } });
    const plain = clientOf(server);
    await using _a = plain.client;
    await (await plain.client.get('/plain')).json();
    expect((await plain.client.exchange('GET', '/plain')).context.cache.status).toBe('MISS');
    expect(server.hits('/plain')).toBe(2);

    server.reset();
    const ttl = clientOf(server, cache({ defaultTtlMs: 1_500 }));
    await using _b = ttl.client;
    await (await ttl.client.get('/plain')).json();
    await ttl.clock.advance(1_400);
    const hit = await ttl.client.exchange('GET', '/plain');
    expect(hit.context.cache.status).toBe('HIT');
    // What the cache made of defaultTtlMs is not shown: the caller sees what the server sent.
    expect(hit.response.headers.get('cache-control')).toBeNull();
    await ttl.clock.advance(200);
    expect((await ttl.client.exchange('GET', '/plain')).context.cache.status).toBe('MISS');
    expect(server.hits('/plain')).toBe(2);
  });

  it('keeps a defaultTtlMs of milliseconds, on top of the server’s other directives', async () => {
    await using server = await createTestServer();
    server.route('/short', { body: 'short', headers: { 'cache-control': 'private' } });
    // The wall clock: 350 ms of real time pass, well past 250 ms and well short of the 1 s that max-age alone could say.
    await using client = compose().use(cache({ defaultTtlMs: 250 })).build({ baseUrl: server.url });
    await (await client.get('/short')).text();
    const hit = await client.exchange('GET', '/short');
    expect(hit.context.cache.status).toBe('HIT');
    expect(hit.response.headers.get('cache-control')).toBe('private');
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await client.exchange('GET', '/short')).context.cache.status).toBe('MISS');
  });

  it('applies defaultTtlMs only to responses that are otherwise storable and say nothing of their expiry', async () => {
    await using server = await createTestServer();
    server.route('/no-store', { json: {}, headers: { 'cache-control': 'no-store' } });
    server.route('/no-cache', { json: {}, headers: { 'cache-control': 'no-cache' } });
    server.route('/max-age-0', { json: {}, headers: { 'cache-control': 'max-age=0' } });
    server.route('/created', { status: 201, json: {} });
    const { client } = clientOf(server, cache({ defaultTtlMs: 60_000 }));
    await using _ = client;
    for (const path of ['/no-store', '/no-cache', '/max-age-0', '/created']) {
      await (await client.get(path)).arrayBuffer();
      expect((await client.exchange('GET', path)).context.cache.status, path).toBe('MISS');
      expect(server.hits(path), path).toBe(2);
    }
  });
});

describe('Vary', () => {
  it('keeps one entry per Accept-Language', async () => {
    await using server = await createTestServer();
    server.route('/greeting', (request, response) => {
      const language = String(request.headers['accept-language']);
      response.writeHead(200, { vary: 'Accept-Language', 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      response.end(language === 'de' ? 'Hallo' : 'Hello');
    });
    const { client, layer } = clientOf(server);
    await using _ = client;
    const get = async (language: string) => {
      const { response, context } = await client.exchange('GET', '/greeting', { headers: { 'accept-language': language } });
      return [context.cache.status, await response.text()];
    };
    expect(await get('en')).toEqual(['MISS', 'Hello']);
    expect(await get('de')).toEqual(['MISS', 'Hallo']);
    expect(await get('en')).toEqual(['HIT', 'Hello']);
    expect(await get('de')).toEqual(['HIT', 'Hallo']);
    expect(server.hits('/greeting')).toBe(2);
    expect(layer.stats().entries).toBe(2);
  });

  it('drops the variants of the old Vary when a response varies on other headers', async () => {
    await using server = await createTestServer();
    server.route('/page', [
      { body: 'one', headers: { 'cache-control': 'max-age=1' } },
      { body: 'two', headers: { 'cache-control': 'max-age=60', vary: 'accept-language' } },
    ]);
    const { client, clock, layer } = clientOf(server);
    await using _ = client;
    await (await client.get('/page')).text();
    await clock.advance(2_000);
    expect(await (await client.get('/page')).text()).toBe('two');
    expect(layer.stats().entries).toBe(1);
    expect((await client.exchange('GET', '/page')).context.cache.status).toBe('HIT');
  });

  it('never serves a Vary: * response from the cache', async () => {
    await using server = await createTestServer();
    server.route('/any', { json: {}, headers: { vary: '*', 'cache-control': 'max-age=60' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/any')).json();
    expect((await client.exchange('GET', '/any')).context.cache.status).toBe('MISS');
    expect(server.hits('/any')).toBe(2);
  });

  it('keeps the responses of different credentials apart, as if they varied on Authorization', async () => {
    await using server = await createTestServer();
    server.route('/me', (request, response) => {
      response.writeHead(200, { 'cache-control': 'max-age=60' });
      response.end(String(request.headers.authorization));
    });
    const { client } = clientOf(server);
    await using _ = client;
    const me = async (token: string) => (await client.get('/me', { headers: { authorization: `Bearer ${token}` } })).text();
    expect(await me('alice')).toBe('Bearer alice');
    expect(await me('bob')).toBe('Bearer bob');
    expect(await me('alice')).toBe('Bearer alice');
    expect(server.hits('/me')).toBe(2);
  });
});

describe('shared and private', () => {
  it('stores private responses in a private cache only', async () => {
    await using server = await createTestServer();
    server.route('/mine', { json: {}, headers: { 'cache-control': 'private, max-age=60' } });
    const own = clientOf(server);
    await using _a = own.client;
    await (await own.client.get('/mine')).json();
    expect((await own.client.exchange('GET', '/mine')).context.cache.status).toBe('HIT');

    server.reset();
    const shared = clientOf(server, cache({ shared: true }));
    await using _b = shared.client;
    await (await shared.client.get('/mine')).json();
    expect((await shared.client.exchange('GET', '/mine')).context.cache.status).toBe('MISS');
    expect(server.hits('/mine')).toBe(2);
  });

  it('counts s-maxage in a shared cache only', async () => {
    await using server = await createTestServer();
    server.route('/cdn', { json: {}, headers: { 'cache-control': 'max-age=0, s-maxage=60' } });
    const shared = clientOf(server, cache({ shared: true }));
    await using _a = shared.client;
    await (await shared.client.get('/cdn')).json();
    expect((await shared.client.exchange('GET', '/cdn')).context.cache.status).toBe('HIT');
    const own = clientOf(server);
    await using _b = own.client;
    await (await own.client.get('/cdn')).json();
    expect((await own.client.exchange('GET', '/cdn')).context.cache.status).toBe('MISS');
  });

  it('stores responses to requests with Authorization in a shared cache only when the response allows it', async () => {
    await using server = await createTestServer();
    server.route('/plain', { json: {}, headers: { 'cache-control': 'max-age=60' } });
    server.route('/public', { json: {}, headers: { 'cache-control': 'public, max-age=60' } });
    const { client } = clientOf(server, cache({ shared: true }));
    await using _ = client;
    const init = { headers: { authorization: 'Bearer t' } };
    for (const path of ['/plain', '/public']) {
      await (await client.get(path, init)).json();
      await (await client.get(path, init)).json();
    }
    expect(server.hits('/plain')).toBe(2);
    expect(server.hits('/public')).toBe(1);
  });
});

describe('stale responses', () => {
  it('serves stale-while-revalidate at once and revalidates once in the background', async () => {
    await using server = await createTestServer();
    const headers = { 'cache-control': 'max-age=1, stale-while-revalidate=60' };
    server.route('/feed', [
      { json: { v: 1 }, headers },
      { json: { v: 2 }, headers, delayMs: 300 },
    ]);
    const { client, clock, layer } = clientOf(server);
    await using _ = client;
    await (await client.get('/feed')).json();
    await clock.advance(2_000);

    const stale = await client.exchange('GET', '/feed');
    expect(stale.context.cache.status).toBe('STALE');
    expect(stale.context.cache.staleReason).toBe('stale-while-revalidate');
    expect(await stale.response.json()).toEqual({ v: 1 });
    const revalidation = stale.context.cache.revalidation;
    expect(revalidation).toBeDefined();
    let settled = false;
    void revalidation?.then(() => (settled = true));

    // More requests while it runs: all stale, none starts another revalidation.
    const more = await Promise.all(Array.from({ length: 5 }, () => client.exchange('GET', '/feed')));
    for (const { response, context } of more) {
      expect(context.cache.status).toBe('STALE');
      expect(context.cache.revalidation).toBe(revalidation);
      expect(await response.json()).toEqual({ v: 1 });
    }
    expect(settled).toBe(false);

    await revalidation;
    expect(server.hits('/feed')).toBe(2);
    const fresh = await client.exchange('GET', '/feed');
    expect(fresh.context.cache.status).toBe('HIT');
    expect(await fresh.response.json()).toEqual({ v: 2 });
    expect(layer.stats()).toMatchObject({ stale: 6, backgroundRevalidations: 1, hits: 1, misses: 1 });
  });

  it('revalidates in the foreground when staleWhileRevalidate is off', async () => {
    await using server = await createTestServer();
    server.route('/feed', { json: { v: 1 }, etag: '"a"', headers: { 'cache-control': 'max-age=1, stale-while-revalidate=60' } });
    const { client, clock } = clientOf(server, cache({ staleWhileRevalidate: false }));
    await using _ = client;
    await (await client.get('/feed')).json();
    await clock.advance(2_000);
    const { context } = await client.exchange('GET', '/feed');
    expect(context.cache.status).toBe('REVALIDATED');
    expect(context.cache.revalidation).toBeUndefined();
  });

  it('serves stale-if-error when upstream answers 503', async () => {
    await using server = await createTestServer();
    server.route('/rates', [{ json: { rate: 1.1 }, headers: { 'cache-control': 'max-age=1, stale-if-error=600' } }, { status: 503 }]);
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/rates')).json();
    await clock.advance(2_000);
    const { response, context } = await client.exchange('GET', '/rates');
    expect(response.status).toBe(200);
    expect(context.cache.status).toBe('STALE');
    expect(context.cache.staleReason).toBe('stale-if-error');
    expect(await response.json()).toEqual({ rate: 1.1 });
    expect(server.hits('/rates')).toBe(2);
  });

  it('serves stale-if-error when the connection fails', async () => {
    await using server = await createTestServer();
    server.route('/rates', [{ json: { rate: 1.1 }, headers: { 'cache-control': 'max-age=1, stale-if-error=600' } }, { action: 'reset' }]);
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/rates')).json();
    await clock.advance(2_000);
    const { response, context } = await client.exchange('GET', '/rates');
    expect(context.cache.status).toBe('STALE');
    expect(await response.json()).toEqual({ rate: 1.1 });
  });

  it('serves stale-if-error when a circuit is open', async () => {
    await using server = await createTestServer();
    server.route('/rates', { json: { rate: 1.1 }, headers: { 'cache-control': 'max-age=1, stale-if-error=600' } });
    let open = false;
    const breaker = defineMiddleware(async function breaker(ctx, next) {
      if (open) throw new ShallotError('ERR_CIRCUIT_OPEN', 'circuit open', { request: ctx.request });
      return next();
    });
    const clock = virtualClock();
    await using client = compose().use(cache()).use(breaker).build({ baseUrl: server.url, clock });
    await (await client.get('/rates')).json();
    await clock.advance(2_000);
    open = true;
    const { response, context } = await client.exchange('GET', '/rates');
    expect(context.cache.status).toBe('STALE');
    expect(await response.json()).toEqual({ rate: 1.1 });
    expect(server.hits('/rates')).toBe(1);
  });

  it('does not serve stale past must-revalidate, nor past the stale-if-error window, nor when turned off', async () => {
    await using server = await createTestServer();
    server.route('/strict', [{ json: {}, headers: { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=600' } }, { status: 503 }]);
    server.route('/window', [{ json: {}, headers: { 'cache-control': 'max-age=1, stale-if-error=5' } }, { status: 503 }]);
    server.route('/off', [{ json: {}, headers: { 'cache-control': 'max-age=1, stale-if-error=600' } }, { status: 503 }]);
    const a = clientOf(server);
    await using _a = a.client;
    const b = clientOf(server, cache({ staleIfError: false }), a.clock);
    await using _b = b.client;
    await (await a.client.get('/strict')).json();
    await (await a.client.get('/window')).json();
    await (await b.client.get('/off')).json();
    // Past the window, and past the minute staleOnErrorMs allows by default.
    await a.clock.advance(70_000);
    for (const [client, path] of [[a.client, '/strict'], [a.client, '/window'], [b.client, '/off']] as const) {
      const { response, context } = await client.exchange('GET', path);
      expect(response.status, path).toBe(503);
      expect(context.cache.status, path).toBe('MISS');
    }
  });

  it('keeps the entry when upstream fails without stale-if-error, and uses it once upstream is back', async () => {
    await using server = await createTestServer();
    server.route('/items', [{ json: { n: 1 }, etag: '"e"', headers: { 'cache-control': 'max-age=1' } }, { status: 500 }, { json: { n: 1 }, etag: '"e"', headers: { 'cache-control': 'max-age=1' } }]);
    const { client, clock } = clientOf(server, cache({ staleOnErrorMs: 0 }));
    await using _ = client;
    await (await client.get('/items')).json();
    await clock.advance(2_000);
    expect((await client.get('/items')).status).toBe(500);
    const back = await client.exchange('GET', '/items');
    expect(back.context.cache.status).toBe('REVALIDATED');
    expect(server.requests('/items')[2]?.headers['if-none-match']).toBe('"e"');
  });
});
