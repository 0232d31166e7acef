import type { ServerResponse } from 'node:http';
import { cache } from '@shallot/cache';
import { compose, defineMiddleware, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { createTestServer, waitFor } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const decoder = new TextDecoder();

const transports: [string, () => Transport][] = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

/** A route that sends its headers and first chunk at once, then waits for the test to go on. */
function heldRoute(headers: Record<string, string>) {
  const held: { response: ServerResponse; closed: boolean }[] = [];
  const handler = (_request: unknown, response: ServerResponse) => {
    const entry = { response, closed: false };
    held.push(entry);
    response.on('close', () => {
      entry.closed = true;
    });
    response.writeHead(200, headers);
    response.write('first,');
  };
  return { held, handler };
}

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { done, value } = await reader.read();
  return done ? '<end>' : decoder.decode(value);
}

describe.each(transports)('a miss streams through while a copy is stored (issue 11, defect 3), over %s', (_name, transport) => {
  it('hands over the response when its headers arrive, then stores it once the body is complete', async () => {
    await using server = await createTestServer();
    const route = heldRoute({ 'cache-control': 'max-age=60' });
    server.route('/slow', route.handler);
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url, transport: transport() });
    // Resolves while upstream still holds the rest of the body back.
    const { response, context } = await client.exchange('GET', '/slow');
    expect(context.cache.status).toBe('MISS');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(await readChunk(reader)).toBe('first,');
    expect(layer.stats().entries).toBe(0);
    route.held[0]?.response.end('second');
    expect(await readChunk(reader)).toBe('second');
    expect(await readChunk(reader)).toBe('<end>');
    const hit = await client.exchange('GET', '/slow');
    expect(hit.context.cache.status).toBe('HIT');
    expect(await hit.response.text()).toBe('first,second');
    expect(server.hits('/slow')).toBe(1);
  });

  it('resolves a server-sent-events stream at once, and the caller’s cancel reaches upstream', async () => {
    await using server = await createTestServer();
    const route = heldRoute({ 'content-type': 'text/event-stream', 'cache-control': 'max-age=60' });
    server.route('/events', route.handler);
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url, transport: transport() });
    const response = await client.get('/events');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(await readChunk(reader)).toBe('first,');
    route.held[0]?.response.write('data: 2\n\n');
    expect(await readChunk(reader)).toBe('data: 2\n\n');
    await reader.cancel();
    await waitFor(() => route.held[0]?.closed === true);
    // Nothing is stored of a body that never completed.
    expect(layer.stats().entries).toBe(0);
    expect((await client.exchange('GET', '/events')).context.cache.status).toBe('MISS');
    route.held[1]?.response.end();
  });

  it('the caller’s abort reaches upstream mid-body, and nothing is stored', async () => {
    await using server = await createTestServer();
    const route = heldRoute({ 'cache-control': 'max-age=60' });
    server.route('/slow', route.handler);
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url, transport: transport() });
    const controller = new AbortController();
    const response = await client.get('/slow', { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(await readChunk(reader)).toBe('first,');
    controller.abort(new Error('caller gave up'));
    await expect(reader.read()).rejects.toThrow();
    await waitFor(() => route.held[0]?.closed === true);
    expect(layer.stats().entries).toBe(0);
  });

  it('passes a response that may not be stored through untouched: the same object', async () => {
    await using server = await createTestServer();
    server.route('/events', { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-store' }, body: 'data: 1\n\n' });
    server.route('/plain', { body: 'no caching headers at all' });
    const seen: Response[] = [];
    const spy = defineMiddleware(async function spy(_ctx, next) {
      const response = await next();
      seen.push(response);
      return response;
    });
    await using client = compose().use(cache()).use(spy).build({ baseUrl: server.url, transport: transport() });
    for (const path of ['/events', '/plain']) {
      const response = await client.get(path);
      expect(response).toBe(seen.at(-1));
      expect(response.headers.get('x-cache')).toBe('MISS');
      await response.text();
    }
  });

  it('stores the body even when the caller never reads it', async () => {
    await using server = await createTestServer();
    server.route('/items', { chunks: ['a', 'b', 'c'], chunkDelayMs: 2, headers: { 'cache-control': 'max-age=60' } });
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url, transport: transport() });
    await client.get('/items');
    await waitFor(() => layer.stats().entries === 1);
    const hit = await client.exchange('GET', '/items');
    expect(hit.context.cache.status).toBe('HIT');
    expect(await hit.response.text()).toBe('abc');
  });

  it('past maxEntryBytes stops copying and stores nothing, while the caller’s stream goes on', async () => {
    await using server = await createTestServer();
    const chunks = Array.from({ length: 8 }, (_, i) => String(i).repeat(500));
    server.route('/big', { chunks, chunkDelayMs: 1, headers: { 'cache-control': 'max-age=60' } });
    const layer = cache({ maxEntryBytes: 1_200 });
    await using client = compose().use(layer).build({ baseUrl: server.url, transport: transport() });
    const response = await client.get('/big');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    expect(text).toBe(chunks.join(''));
    expect(layer.stats().entries).toBe(0);
  });
});

describe('single-flight with a streaming leader', () => {
  it('joiners wait for the stored entry and get the whole body; upstream is asked once', async () => {
    await using server = await createTestServer();
    const route = heldRoute({ 'cache-control': 'max-age=60' });
    server.route('/slow', route.handler);
    const layer = cache();
    await using client = compose().use(layer).build({ baseUrl: server.url });
    const leader = await client.exchange('GET', '/slow');
    const joiners = Array.from({ length: 5 }, () => client.exchange('GET', '/slow'));
    route.held[0]?.response.end('second');
    expect(await leader.response.text()).toBe('first,second');
    for (const joiner of await Promise.all(joiners)) {
      expect(joiner.context.cache.coalesced).toBe(true);
      expect(await joiner.response.text()).toBe('first,second');
    }
    expect(server.hits('/slow')).toBe(1);
  });

  it('a joiner does not hang when the leader’s caller cancels: it leads a request of its own', async () => {
    await using server = await createTestServer();
    const route = heldRoute({ 'cache-control': 'max-age=60' });
    server.route('/slow', route.handler);
    await using client = compose().use(cache()).build({ baseUrl: server.url });
    const leader = await client.get('/slow');
    const joiner = client.exchange('GET', '/slow');
    // Let the joiner reach the flight before the leader's caller cancels.
    await new Promise((resolve) => setImmediate(resolve));
    await (leader.body as ReadableStream<Uint8Array>).cancel();
    await waitFor(() => route.held.length === 2);
    route.held[1]?.response.end('again');
    const { response, context } = await joiner;
    expect(context.cache.status).toBe('MISS');
    expect(await response.text()).toBe('first,again');
    expect(server.hits('/slow')).toBe(2);
  });
});
