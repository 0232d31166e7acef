import { compose, defineMiddleware, isInvalidOptionsError, isNetworkError } from '@shallot/core';
import { hedge } from '@shallot/hedge';
import { retry } from '@shallot/retry';
import { createTestServer, waitFor } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('hedge', () => {
  it('answers from the fast copy and aborts the slow one, closing its socket', async () => {
    await using server = await createTestServer();
    server.route('/item', [{ delayMs: 3_000, json: { copy: 'slow' } }, { json: { copy: 'fast' } }]);
    await using client = compose().use(hedge({ delayMs: 30 })).build({ baseUrl: server.url });
    const started = Date.now();
    const { response, context } = await client.exchange('GET', '/item');
    expect(await response.json()).toEqual({ copy: 'fast' });
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(context.hedge).toEqual({ hedged: true, winner: 1, copies: 2 });
    expect(server.hits('/item')).toBe(2);
    // The slow copy was abandoned by the client: its request is marked aborted and its socket closed.
    await waitFor(() => server.requests('/item')[0]?.aborted === true);
    await waitFor(() => server.connections().closed >= 1);
  });

  it('sends no copy when the first answers within the delay', async () => {
    await using server = await createTestServer();
    server.route('/quick', { json: { ok: true } });
    await using client = compose().use(hedge({ delayMs: 500 })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/quick');
    expect(response.status).toBe(200);
    expect(context.hedge).toEqual({ hedged: false, winner: 0, copies: 1 });
    await pause(30);
    expect(server.hits('/quick')).toBe(1);
  });

  it('the first copy still wins when it answers after the hedge was sent', async () => {
    await using server = await createTestServer();
    server.route('/both-slow', [{ delayMs: 100, json: { copy: 0 } }, { delayMs: 3_000, json: { copy: 1 } }]);
    await using client = compose().use(hedge({ delayMs: 20 })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/both-slow');
    expect(await response.json()).toEqual({ copy: 0 });
    expect(context.hedge).toEqual({ hedged: true, winner: 0, copies: 2 });
    await waitFor(() => server.requests('/both-slow')[1]?.aborted === true);
  });

  it('never hedges POST or PATCH without an Idempotency-Key', async () => {
    await using server = await createTestServer();
    server.route('/orders', { delayMs: 150, json: { ok: true } });
    await using client = compose().use(hedge({ delayMs: 10 })).build({ baseUrl: server.url });
    const post = await client.exchange('POST', '/orders', { json: { item: 1 } });
    const patch = await client.exchange('PATCH', '/orders', { json: { item: 1 } });
    expect(post.context.hedge.hedged).toBe(false);
    expect(patch.context.hedge.hedged).toBe(false);
    expect(server.hits('/orders')).toBe(2);
  });

  it('hedges a POST that carries an Idempotency-Key, with the same key and body on both copies', async () => {
    await using server = await createTestServer();
    server.route('/orders', [{ delayMs: 3_000, json: { copy: 'slow' } }, { json: { copy: 'fast' } }]);
    await using client = compose().use(hedge({ delayMs: 20 })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('POST', '/orders', { json: { item: 1 }, headers: { 'idempotency-key': 'k-1' } });
    expect(await response.json()).toEqual({ copy: 'fast' });
    expect(context.hedge.hedged).toBe(true);
    expect(server.requests('/orders').map((r) => [r.headers['idempotency-key'], r.body.toString()])).toEqual([
      ['k-1', '{"item":1}'],
      ['k-1', '{"item":1}'],
    ]);
  });

  it('never hedges a stream body', async () => {
    await using server = await createTestServer();
    server.route('/upload', { delayMs: 100, json: { ok: true } });
    await using client = compose().use(hedge({ delayMs: 10 })).build({ baseUrl: server.url });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data'));
        controller.close();
      },
    });
    const { context } = await client.exchange('PUT', '/upload', { body });
    expect(context.hedge.hedged).toBe(false);
    expect(server.hits('/upload')).toBe(1);
  });

  it('maxExtraLoad caps copies as a fraction of requests', async () => {
    await using server = await createTestServer();
    server.route('/slow', { delayMs: 40, json: { ok: true } });
    await using client = compose().use(hedge({ delayMs: 5, maxExtraLoad: 0.1 })).build({ baseUrl: server.url });
    let hedged = 0;
    for (let i = 0; i < 20; i++) {
      const { context } = await client.exchange('GET', '/slow');
      if (context.hedge.hedged) hedged++;
    }
    // One copy to start with, then one per ten requests.
    expect(hedged).toBeGreaterThanOrEqual(1);
    expect(hedged).toBeLessThanOrEqual(3);
    await pause(80);
    expect(server.hits('/slow')).toBe(20 + hedged);
  });

  it('maxHedges sends further copies, each a delay apart', async () => {
    await using server = await createTestServer();
    server.route('/very-slow', [{ delayMs: 3_000, json: { copy: 0 }, times: 2 }, { json: { copy: 2 } }]);
    await using client = compose().use(hedge({ delayMs: 20, maxHedges: 2, maxExtraLoad: 2 })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/very-slow');
    expect(await response.json()).toEqual({ copy: 2 });
    expect(context.hedge).toEqual({ hedged: true, winner: 2, copies: 3 });
    await waitFor(() => server.requests('/very-slow').filter((r) => r.aborted).length === 2);
  });

  it('percentile: hedges at the latency observed for the host, once it has enough samples', async () => {
    await using server = await createTestServer();
    server.route('/p', [{ json: { copy: 'fast' }, times: 5 }, { delayMs: 3_000, json: { copy: 'slow' } }, { json: { copy: 'fast' } }]);
    await using client = compose().use(hedge({ percentile: 90, minSamples: 5 })).build({ baseUrl: server.url });
    for (let i = 0; i < 5; i++) {
      const { context } = await client.exchange('GET', '/p');
      expect(context.hedge.hedged).toBe(false);
    }
    const { response, context } = await client.exchange('GET', '/p');
    expect(await response.json()).toEqual({ copy: 'fast' });
    expect(context.hedge).toEqual({ hedged: true, winner: 1, copies: 2 });
    await waitFor(() => server.requests('/p')[5]?.aborted === true);
  });

  it('percentile without delayMs does not hedge before it has samples', async () => {
    await using server = await createTestServer();
    server.route('/cold', { delayMs: 100, json: { ok: true } });
    await using client = compose().use(hedge({ percentile: 95 })).build({ baseUrl: server.url });
    const { context } = await client.exchange('GET', '/cold');
    expect(context.hedge.hedged).toBe(false);
    expect(server.hits('/cold')).toBe(1);
  });

  it('a failure before the delay is the answer: no copy is sent', async () => {
    await using server = await createTestServer();
    server.route('/reset', { action: 'reset' });
    await using client = compose().use(hedge({ delayMs: 200 })).build({ baseUrl: server.url });
    const error = await client.get('/reset').catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
    await pause(250);
    expect(server.hits('/reset')).toBe(1);
  });

  it("the caller's abort aborts every copy", async () => {
    await using server = await createTestServer();
    server.route('/hang', { action: 'hang' });
    await using client = compose().use(hedge({ delayMs: 10 })).build({ baseUrl: server.url });
    const controller = new AbortController();
    const pending = client.get('/hang', { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => server.hits('/hang') === 2);
    controller.abort(new Error('caller gave up'));
    expect(((await pending) as Error).message).toBe('caller gave up');
    await waitFor(() => server.requests('/hang').every((r) => r.aborted));
    await waitFor(() => server.connections().closed >= 2);
  });

  it('inner layers run on each copy; their keys on the winning copy reach the caller', async () => {
    await using server = await createTestServer();
    server.route('/flaky', [{ delayMs: 3_000, status: 200 }, { status: 503 }, { json: { ok: true } }]);
    const stamp = defineMiddleware<{}, { stamp: { copy: string } }>(async function stamp(ctx, next) {
      ctx.stamp = { copy: ctx.request.headers.get('x-copy') ?? 'unknown' };
      return next();
    });
    let copies = 0;
    const label = defineMiddleware(async function label(ctx, next) {
      ctx.request.headers.set('x-copy', String(copies++));
      return next();
    });
    await using client = compose()
      .use(hedge({ delayMs: 20 }))
      .use(label)
      .use(retry({ backoff: { kind: 'constant', delayMs: 1 } }))
      .use(stamp)
      .build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/flaky');
    expect(await response.json()).toEqual({ ok: true });
    expect(context.hedge.winner).toBe(1);
    expect(context.retry.attempt).toBe(2);
    expect(context.stamp).toEqual({ copy: '1' });
    expect(server.hits('/flaky')).toBe(3);
  });

  it('rejects options without delayMs or percentile', () => {
    let error: unknown;
    try {
      hedge({});
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toMatch(/delayMs, percentile/);
    expect(() => hedge({ delayMs: 10, maxHedges: 0 })).toThrow(/hedge\.maxHedges/);
  });

  it('describe() shows the resolved options', async () => {
    await using client = compose().use(hedge({ delayMs: 50 })).build();
    expect(client.describe()[0]).toMatchObject({ name: 'hedge', options: { delayMs: 50, maxHedges: 1, maxExtraLoad: 0.1 } });
  });
});
