// Regression tests for the RFC 9111 corrections the cache makes to http-cache-semantics' decisions,
// each named for the cache-tests id (http-tests/cache-tests) it fixed. `npm run conformance` runs
// the whole suite.
import { cache, type CacheMiddleware } from '@shallot/cache';
import { compose } from '@shallot/core';
import { createTestServer, type Reply, type TestServer, virtualClock } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

function clientOf(server: TestServer, layer: CacheMiddleware = cache()) {
  const clock = virtualClock();
  return { client: compose().use(layer).build({ baseUrl: server.url, clock }), clock, layer };
}

/** Sends `path` twice (the first response read), `advanceMs` apart; the cache status of the second. */
async function secondStatus(reply: Reply | Reply[], advanceMs = 0, init: { headers?: Record<string, string> } = {}): Promise<string> {
  await using server = await createTestServer();
  server.route('/t', reply);
  const { client, clock } = clientOf(server);
  await using _ = client;
  await (await client.get('/t', init)).arrayBuffer();
  await clock.advance(advanceMs);
  const { response, context } = await client.exchange('GET', '/t', init);
  await response.arrayBuffer();
  return context.cache.status;
}


describe('Cache-Control, Expires and Age as RFC 9111 reads them', () => {
  it('cc-resp-no-cache-case-insensitive: `No-CaChE` is no-cache', async () => {
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age=10000, No-CaChE' } })).toBe('MISS');
  });

  it('freshness-max-age-case-insenstive: `MaX-aGe` is max-age', async () => {
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'MaX-aGe=3600' } })).toBe('HIT');
  });

  it('freshness-max-age-two-fresh-stale-sameline and -space-before-equals: the first max-age counts, a malformed one none', async () => {
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age=1800, max-age=1' } }, 3_000)).toBe('HIT');
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age =3600' } })).toBe('MISS');
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'extension="max-age=3600", max-age=1' } }, 3_000)).toBe('MISS');
  });

  it('freshness-expires-invalid-*: an invalid Expires means already expired', async () => {
    for (const expires of ['Thu, 18 Aug 2050 02:01:18 UTC', 'Thu 18 Aug 2050 02:01:18 GMT', 'Thu, 18 Aug  2050 02:01:18 GMT', 'Thu, 18-Aug-2050 02:01:18 GMT', 'Thu, 18 Aug 2050 2:01:18 GMT']) {
      expect(await secondStatus({ body: 'x', headers: { expires } }), expires).toBe('MISS');
    }
  });

  it('freshness-expires-rfc850 and -ansi-c: the obsolete date forms are understood', async () => {
    expect(await secondStatus({ body: 'x', headers: { expires: 'Thursday, 18-Aug-50 02:01:18 GMT' } })).toBe('HIT');
    expect(await secondStatus({ body: 'x', headers: { expires: 'Thu Aug  8 02:01:18 2050' } })).toBe('HIT');
  });

  it('age-parse-float and age-parse-suffix: an Age that is not delta-seconds is ignored; of a list, the first counts', async () => {
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age=3600', age: '7200.0' } })).toBe('HIT');
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age=3600', age: '7200, 0' } })).toBe('MISS');
  });

  it('other-date-update: a hit keeps the Date of the stored response', async () => {
    await using server = await createTestServer();
    const date = new Date(Date.now() - 5_000).toUTCString();
    server.route('/t', { body: 'x', headers: { 'cache-control': 'max-age=100000', date } });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    await clock.advance(30_000);
    const hit = await client.exchange('GET', '/t');
    expect(hit.context.cache.status).toBe('HIT');
    expect(hit.response.headers.get('date')).toBe(date);
    expect(Number(hit.response.headers.get('age'))).toBeGreaterThanOrEqual(30);
  });

  it('headers-omit-headers-listed-in-Cache-Control-no-cache: a qualified no-cache drops only the fields it names', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: 'x', headers: { 'cache-control': 'no-cache="a, b", max-age=3600', a: '1', b: '2', c: '3' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    const hit = await client.exchange('GET', '/t');
    expect(hit.context.cache.status).toBe('HIT');
    expect([hit.response.headers.get('a'), hit.response.headers.get('b'), hit.response.headers.get('c')]).toEqual([null, null, '3']);
  });

  it('pragma-response-no-cache-heuristic and pragma-request-no-cache: Pragma is not Cache-Control', async () => {
    const lastModified = new Date(Date.now() - 100_000_000).toUTCString();
    expect(await secondStatus({ body: 'x', headers: { pragma: 'no-cache', 'last-modified': lastModified } })).toBe('HIT');
    expect(await secondStatus({ body: 'x', headers: { 'cache-control': 'max-age=100000' } }, 0, { headers: { pragma: 'no-cache' } })).toBe('HIT');
  });
});

describe('status codes', () => {
  it('status-299-fresh, status-400-fresh, status-500-fresh, status-599-fresh: any final status with explicit freshness is stored', async () => {
    for (const status of [299, 400, 500, 503, 599]) {
      expect(await secondStatus({ status, body: 'x', headers: { 'cache-control': 'max-age=100000' } }), String(status)).toBe('HIT');
    }
  });

  it('heuristic-599-cached and heuristic-599-not_cached: heuristic freshness for an unknown status only when public', async () => {
    const lastModified = new Date(Date.now() - 86_400_000).toUTCString();
    expect(await secondStatus({ status: 599, body: 'x', headers: { 'last-modified': lastModified, 'cache-control': 'public' } })).toBe('HIT');
    expect(await secondStatus({ status: 599, body: 'x', headers: { 'last-modified': lastModified } })).toBe('MISS');
    expect(await secondStatus({ status: 503, body: 'x', headers: { 'last-modified': lastModified } })).toBe('MISS');
  });

  it('status-200-must-understand and status-599-must-understand: no-store yields to must-understand for a status the cache knows', async () => {
    const headers = { 'cache-control': 'max-age=3600, no-store, must-understand' };
    expect(await secondStatus({ status: 200, body: 'x', headers })).toBe('HIT');
    expect(await secondStatus({ status: 599, body: 'x', headers })).toBe('MISS');
  });
});

describe('validation', () => {
  it('cc-resp-must-revalidate-stale: a 304 without validators refreshes the entry it was asked about', async () => {
    await using server = await createTestServer();
    server.route('/t', (request, response) => {
      if (request.headers['if-none-match'] === '"abcd"') response.writeHead(304, { 'cache-control': 'max-age=2, must-revalidate' }).end();
      else response.writeHead(200, { 'cache-control': 'max-age=2, must-revalidate', etag: '"abcd"' }).end('body');
    });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    await clock.advance(3_000);
    const revalidated = await client.exchange('GET', '/t');
    expect(revalidated.context.cache.status).toBe('REVALIDATED');
    expect(await revalidated.response.text()).toBe('body');
    expect(server.hits('/t')).toBe(2);
  });

  it('conditional-etag-strong-generate-unquoted: an unquoted stored ETag is sent quoted', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: 'x', headers: { 'cache-control': 'max-age=2', etag: 'abcdef' } });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    await clock.advance(3_000);
    await (await client.get('/t')).text();
    expect(server.requests('/t')[1]?.headers['if-none-match']).toBe('"abcdef"');
  });

  it('cc-resp-immutable-fresh: the no-cache mode does not revalidate a fresh immutable response', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: 'x', etag: '"i"', headers: { 'cache-control': 'max-age=10000, immutable' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    expect((await client.exchange('GET', '/t', { cache: 'no-cache' })).context.cache.status).toBe('HIT');
    expect(server.hits('/t')).toBe(1);
  });

  it('stale-close and stale-503: within staleOnErrorMs, a stale entry stands in for an upstream that fails', async () => {
    await using server = await createTestServer();
    server.route('/close', [{ body: 'kept', headers: { 'cache-control': 'max-age=2' } }, { action: 'reset' }]);
    server.route('/503', [{ body: 'kept', headers: { 'cache-control': 'max-age=2' } }, { status: 503 }]);
    server.route('/strict', [{ body: 'kept', headers: { 'cache-control': 'max-age=2, must-revalidate' } }, { status: 503 }]);
    const { client, clock } = clientOf(server);
    await using _ = client;
    for (const path of ['/close', '/503', '/strict']) await (await client.get(path)).text();
    await clock.advance(3_000);
    for (const path of ['/close', '/503']) {
      const { response, context } = await client.exchange('GET', path);
      expect([context.cache.status, context.cache.staleReason, await response.text()], path).toEqual(['STALE', 'stale-if-error', 'kept']);
    }
    // stale-close-must-revalidate: never past must-revalidate.
    expect((await client.get('/strict')).status).toBe(503);
  });
});

describe('requests', () => {
  it('ccreq-no-store and ccreq-oic: the request’s own no-store and only-if-cached', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: 'x', headers: { 'cache-control': 'max-age=100000' } });
    const { client } = clientOf(server);
    await using _ = client;
    const onlyIfCached = await client.exchange('GET', '/t', { headers: { 'cache-control': 'only-if-cached' } });
    expect(onlyIfCached.response.status).toBe(504);
    await (await client.get('/t')).text();
    expect((await client.exchange('GET', '/t', { headers: { 'cache-control': 'no-store' } })).context.cache.status).toBe('BYPASS');
    expect((await client.exchange('GET', '/t', { headers: { 'cache-control': 'only-if-cached' } })).context.cache.status).toBe('HIT');
    expect(server.hits('/t')).toBe(2);
  });

  it('method-POST: a POST response with explicit freshness at its own Content-Location serves later GETs', async () => {
    await using server = await createTestServer();
    server.route('/t', (request, response) => {
      response.writeHead(request.method === 'POST' ? 200 : 500, { 'cache-control': 'max-age=3600', 'content-location': `${server.url}/t` });
      response.end(request.method);
    });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.post('/t', { body: '12345' })).text();
    const get = await client.exchange('GET', '/t');
    expect(get.context.cache.status).toBe('HIT');
    expect(await get.response.text()).toBe('POST');
  });

  it('head-200-retain, head-200-update and head-200-freshness-update: a HEAD’s 200 refreshes the stored GET response', async () => {
    await using server = await createTestServer();
    server.route('/t', (request, response) => {
      if (request.method === 'HEAD') response.writeHead(200, { 'cache-control': 'max-age=1000', 'template-b': '2' }).end();
      else response.writeHead(200, { 'cache-control': 'max-age=2', 'template-a': '1' }).end('body');
    });
    const { client, clock } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    await clock.advance(3_000);
    const head = await client.exchange('HEAD', '/t');
    expect(head.context.cache.status).toBe('REVALIDATED');
    expect([head.response.headers.get('template-a'), head.response.headers.get('cache-control')]).toEqual(['1', 'max-age=1000']);
    const get = await client.exchange('GET', '/t');
    expect(get.context.cache.status).toBe('HIT');
    expect(await get.response.text()).toBe('body');
    expect(server.requests('/t').map((r) => r.method)).toEqual(['GET', 'HEAD']);
  });
});

describe('Vary', () => {
  const varies = { 'cache-control': 'max-age=5000', vary: 'Accept-Language', 'content-language': 'de' };

  it('vary-normalise-lang-order, -case, -space: Accept-Language compared as a set of tags', async () => {
    for (const second of ['de, en', 'eN, De', ' en ,   de']) {
      await using server = await createTestServer();
      server.route('/t', { body: 'x', headers: varies });
      const { client } = clientOf(server);
      await using _ = client;
      await (await client.get('/t', { headers: { 'accept-language': 'en, de' } })).text();
      expect((await client.exchange('GET', '/t', { headers: { 'accept-language': second } })).context.cache.status, second).toBe('HIT');
    }
  });

  it('vary-normalise-lang-select: a stored response in the language the request prefers most', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: 'x', headers: varies });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/t', { headers: { 'accept-language': 'en, de' } })).text();
    expect((await client.exchange('GET', '/t', { headers: { 'accept-language': 'fr;q=0.5, de;q=1.0' } })).context.cache.status).toBe('HIT');
    // Not when the request prefers a language nothing stored is in.
    expect((await client.exchange('GET', '/t', { headers: { 'accept-language': 'fr, de;q=0.5' } })).context.cache.status).toBe('MISS');
  });

  it('vary-normalise-space: whitespace between list members never matters', async () => {
    expect(
      await (async () => {
        await using server = await createTestServer();
        server.route('/t', { body: 'x', headers: { 'cache-control': 'max-age=5000', vary: 'Foo' } });
        const { client } = clientOf(server);
        await using _ = client;
        await (await client.get('/t', { headers: { foo: '1,2' } })).text();
        return (await client.exchange('GET', '/t', { headers: { foo: ' 1, 2 ' } })).context.cache.status;
      })(),
    ).toBe('HIT');
  });
});

describe('partial content (RFC 9111 §3.3-3.4)', () => {
  it('partial-store-complete-reuse-partial (-no-last, -suffix): ranges served from a stored complete response', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: '0123456789A', headers: { 'cache-control': 'max-age=3600' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    for (const [range, text, contentRange] of [
      ['bytes=0-1', '01', 'bytes 0-1/11'],
      ['bytes=1-', '123456789A', 'bytes 1-10/11'],
      ['bytes=-1', 'A', 'bytes 10-10/11'],
    ]) {
      const { response, context } = await client.exchange('GET', '/t', { headers: { range: range as string } });
      expect([response.status, context.cache.status, response.headers.get('content-range'), await response.text()], range).toEqual([206, 'HIT', contentRange, text]);
    }
    expect(server.hits('/t')).toBe(1);
  });

  it('partial-store-partial-reuse-partial: a stored part serves the ranges it covers; a part whose body disagrees with its Content-Range is not stored', async () => {
    await using server = await createTestServer();
    server.route('/part', { status: 206, body: '456789', headers: { 'cache-control': 'max-age=3600', 'content-range': 'bytes 4-9/10' } });
    server.route('/bad', { status: 206, body: '01234', headers: { 'cache-control': 'max-age=3600', 'content-range': 'bytes 4-9/10' } });
    const { client } = clientOf(server);
    await using _ = client;
    expect(await (await client.get('/part', { headers: { range: 'bytes=-6' } })).text()).toBe('456789');
    const reuse = await client.exchange('GET', '/part', { headers: { range: 'bytes=6-8' } });
    expect([reuse.response.status, reuse.context.cache.status, await reuse.response.text()]).toEqual([206, 'HIT', '678']);
    // Bytes the part does not hold go upstream.
    expect((await client.exchange('GET', '/part', { headers: { range: 'bytes=0-1' } })).context.cache.status).toBe('MISS');
    await (await client.get('/bad', { headers: { range: 'bytes=-5' } })).text();
    expect((await client.exchange('GET', '/bad', { headers: { range: 'bytes=-5' } })).context.cache.status).toBe('MISS');
  });

  it('partial-store-partial-complete: a stored first part is completed with `Range: bytes=N-` and If-Range, and combined', async () => {
    await using server = await createTestServer();
    const whole = '0123456789';
    server.route('/t', (request, response) => {
      const range = /^bytes=(\d+)-(\d*)$/.exec(String(request.headers.range ?? ''));
      if (range === null) return void response.writeHead(200, { etag: '"v1"', 'cache-control': 'max-age=3600' }).end(whole);
      const start = Number(range[1]);
      const end = range[2] === '' ? whole.length - 1 : Number(range[2]);
      response.writeHead(206, { etag: '"v1"', 'cache-control': 'max-age=3600', 'content-range': `bytes ${start}-${end}/${whole.length}` });
      response.end(whole.slice(start, end + 1));
    });
    const { client } = clientOf(server);
    await using _ = client;
    expect(await (await client.get('/t', { headers: { range: 'bytes=0-4' } })).text()).toBe('01234');
    const combined = await client.exchange('GET', '/t');
    expect([combined.response.status, combined.response.headers.get('content-range'), await combined.response.text()]).toEqual([200, null, whole]);
    const second = server.requests('/t')[1];
    expect([second?.headers.range, second?.headers['if-range']]).toEqual(['bytes=5-', '"v1"']);
    const hit = await client.exchange('GET', '/t');
    expect([hit.context.cache.status, await hit.response.text()]).toEqual(['HIT', whole]);
    expect(server.hits('/t')).toBe(2);
  });
});

describe('ranges and the fetch cache modes', () => {
  it('reload and no-cache never answer a range from the cache', async () => {
    await using server = await createTestServer();
    server.route('/t', { body: '0123456789', headers: { 'cache-control': 'max-age=3600' } });
    const { client } = clientOf(server);
    await using _ = client;
    await (await client.get('/t')).text();
    for (const mode of ['reload', 'no-cache'] as const) {
      const { response, context } = await client.exchange('GET', '/t', { cache: mode, headers: { range: 'bytes=0-1' } });
      expect(context.cache.status, mode).toBe('MISS');
      await response.text();
    }
    expect(server.hits('/t')).toBe(3);
  });
});
