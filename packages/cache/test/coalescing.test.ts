import { cache } from '@shallot/cache';
import { compose, isNetworkError } from '@shallot/core';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

describe('coalescing', () => {
  it('sends one request upstream for 100 concurrent identical misses, and every caller reads its own body', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { items: [1, 2, 3] }, delayMs: 50, headers: { 'cache-control': 'max-age=60' } });
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url });

    const exchanges = await Promise.all(Array.from({ length: 100 }, () => client.exchange('GET', '/items')));
    expect(server.hits('/items')).toBe(1);
    const bodies = await Promise.all(exchanges.map(({ response }) => response.json()));
    for (const body of bodies) expect(body).toEqual({ items: [1, 2, 3] });
    expect(exchanges.filter(({ context }) => !context.cache.coalesced)).toHaveLength(1);
    expect(exchanges.every(({ context }) => context.cache.status === 'MISS')).toBe(true);
    expect(layer.stats()).toMatchObject({ misses: 100, coalesced: 99 });
  });

  it('coalesces a foreground revalidation too', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: { n: 1 }, etag: '"x"', delayMs: 30, headers: { 'cache-control': 'no-cache' } });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    await (await client.get('/items')).json();
    const exchanges = await Promise.all(Array.from({ length: 10 }, () => client.exchange('GET', '/items')));
    expect(server.hits('/items')).toBe(2);
    for (const { response, context } of exchanges) {
      expect(context.cache.status).toBe('REVALIDATED');
      expect(await response.json()).toEqual({ n: 1 });
    }
  });

  it('sends their own requests for a response that may not be shared', async () => {
    await using server = await createTestServer();
    let n = 0;
    server.route('/once', (_request, response) => {
      setTimeout(() => {
        response.writeHead(200, { 'cache-control': 'no-store' });
        response.end(String(++n));
      }, 30);
    });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const bodies = await Promise.all(Array.from({ length: 5 }, async () => (await client.get('/once')).text()));
    expect(server.hits('/once')).toBe(5);
    expect(new Set(bodies).size).toBe(5);
  });

  it('does not hand a response to a joiner whose request it does not vary-match', async () => {
    await using server = await createTestServer();
    server.route('/greeting', (request, response) => {
      setTimeout(() => {
        response.writeHead(200, { vary: 'accept-language', 'cache-control': 'max-age=60' });
        response.end(String(request.headers['accept-language']));
      }, 30);
    });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const languages = ['en', 'de', 'en', 'fr', 'de'];
    const bodies = await Promise.all(languages.map(async (l) => (await client.get('/greeting', { headers: { 'accept-language': l } })).text()));
    expect(bodies).toEqual(languages);
    expect(server.hits('/greeting')).toBe(3);
  });

  it('shares the leader’s network error with the requests that joined it', async () => {
    await using server = await createTestServer();
    server.route('/down', { action: 'reset', delayMs: 30 });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => client.get('/down')));
    expect(server.hits('/down')).toBe(1);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(isNetworkError((result as PromiseRejectedResult).reason)).toBe(true);
    }
  });

  it('lets the joiners go on when the leader’s caller aborts', async () => {
    await using server = await createTestServer();
    server.route('/slow', { json: { ok: true }, delayMs: 100, headers: { 'cache-control': 'max-age=60' } });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const controller = new AbortController();
    const leader = client.get('/slow', { signal: controller.signal });
    const joiners = Array.from({ length: 3 }, () => client.get('/slow'));
    setTimeout(() => controller.abort(new Error('caller gave up')), 20);
    await expect(leader).rejects.toThrow('caller gave up');
    for (const joiner of joiners) expect(await (await joiner).json()).toEqual({ ok: true });
    expect(server.hits('/slow')).toBe(2);
  });

  it('does not hand the leader’s own timeout to the requests that joined it', async () => {
    await using server = await createTestServer();
    server.route('/slow', { json: { ok: true }, delayMs: 150, headers: { 'cache-control': 'max-age=60' } });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const leader = client.get('/slow', { timeoutMs: 30 });
    const joiners = Array.from({ length: 3 }, () => client.get('/slow'));
    await expect(leader).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    for (const joiner of joiners) expect(await (await joiner).json()).toEqual({ ok: true });
    expect(server.hits('/slow')).toBe(2);
  });

  it('lets a joiner give up on its own', async () => {
    await using server = await createTestServer();
    server.route('/slow', { json: { ok: true }, delayMs: 100, headers: { 'cache-control': 'max-age=60' } });
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const leader = client.get('/slow');
    const controller = new AbortController();
    const joiner = client.get('/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('joiner gave up')), 20);
    await expect(joiner).rejects.toThrow('joiner gave up');
    expect(await (await leader).json()).toEqual({ ok: true });
    expect(server.hits('/slow')).toBe(1);
  });

  it('sends each request when coalesce is off', async () => {
    await using server = await createTestServer();
    server.route('/items', { json: {}, delayMs: 30, headers: { 'cache-control': 'max-age=60' } });
    await using client = compose().use(cache({ coalesce: false })).build({ baseUrl: server.url });
    await Promise.all(Array.from({ length: 4 }, async () => (await client.get('/items')).json()));
    expect(server.hits('/items')).toBe(4);
  });
});
