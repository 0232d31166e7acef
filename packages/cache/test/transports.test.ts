import { gunzipSync, gzipSync } from 'node:zlib';
import { cache } from '@shallot/cache';
import { compose, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { createTestServer, virtualClock } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const transports: [string, () => Transport][] = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

describe.each(transports)('over the %s transport', (_name, makeTransport) => {
  it('stores, revalidates, serves stale on 503 and streams large bodies through', async () => {
    await using server = await createTestServer();
    server.route('/items', [
      { json: { n: 1 }, etag: '"1"', headers: { 'cache-control': 'max-age=1, stale-if-error=60' }, times: 2 },
      { status: 503, body: 'down' },
    ]);
    server.route('/big', { body: 'z'.repeat(10_000), headers: { 'cache-control': 'max-age=60' } });
    const clock = virtualClock();
    await using client = compose().use(cache({ maxEntryBytes: 4_096 })).build({ baseUrl: server.url, clock, transport: makeTransport() });

    const statuses: string[] = [];
    const get = async (path: string) => {
      const { response, context } = await client.exchange('GET', path);
      statuses.push(`${context.cache.status} ${response.headers.get('x-cache')}`);
      return response.text();
    };
    expect(await get('/items')).toBe('{"n":1}');
    expect(await get('/items')).toBe('{"n":1}');
    await clock.advance(2_000);
    expect(await get('/items')).toBe('{"n":1}');
    await clock.advance(2_000);
    expect(await get('/items')).toBe('{"n":1}');
    expect(await get('/big')).toHaveLength(10_000);
    expect(await get('/big')).toHaveLength(10_000);
    expect(statuses).toEqual(['MISS MISS', 'HIT HIT', 'REVALIDATED REVALIDATED', 'STALE STALE', 'MISS MISS', 'MISS MISS']);
    expect(server.hits('/items')).toBe(3);
    expect(server.hits('/big')).toBe(2);
  });

  it('serves a hit with headers that describe the body served, from a gzip upstream (issue 14, defect 3)', async () => {
    await using server = await createTestServer();
    const text = 'compressible '.repeat(200);
    const gzipped = gzipSync(text);
    server.route('/gzip', (_request, response) => {
      response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(gzipped.byteLength), 'cache-control': 'max-age=60', etag: '"z"' });
      response.end(gzipped);
    });
    server.route('/plain', (_request, response) => {
      response.writeHead(200, { 'content-length': String(text.length), 'cache-control': 'max-age=60' });
      response.end(text);
    });
    const clock = virtualClock();
    await using client = compose().use(cache()).build({ baseUrl: server.url, clock, transport: makeTransport() });
    const describesItsBody = async (response: Response) => {
      const bytes = new Uint8Array(await response.arrayBuffer());
      const encoding = response.headers.get('content-encoding');
      expect([null, 'gzip']).toContain(encoding);
      expect((encoding === 'gzip' ? gunzipSync(bytes) : Buffer.from(bytes)).toString()).toBe(text);
      const length = response.headers.get('content-length');
      if (length !== null) expect(Number(length)).toBe(bytes.byteLength);
    };
    for (const path of ['/gzip', '/plain']) {
      await (await client.get(path)).arrayBuffer();
      const hit = await client.exchange('GET', path);
      expect(hit.context.cache.status, path).toBe('HIT');
      await describesItsBody(hit.response);
    }
    // A plain body keeps its (right) Content-Length.
    expect((await client.get('/plain')).headers.get('content-length')).toBe(String(text.length));
  });
});
