import { compose, defineMiddleware, isInvalidOptionsError, nodeFetchTransport, TimeoutError, undiciTransport } from '@shallot/core';
import { createTestServer, type TestServer } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let server: TestServer;
beforeAll(async () => {
  server = await createTestServer();
  server.route('/hang', { action: 'hang' });
  server.route('/slow', { delayMs: 150, json: { slow: true } });
  server.route('/fast', { json: { fast: true } });
  server.route('/slow-body', { chunks: ['a', 'b'], chunkDelayMs: 200 });
});
afterAll(() => server.close());

/** Calls next() until it succeeds, at most `times` times: a stand-in for retry, inside core's rules. */
const again = (times: number) =>
  defineMiddleware(async function again(_ctx, next) {
    for (let i = 1; ; i++) {
      try {
        return await next();
      } catch (error) {
        if (i >= times) throw error;
      }
    }
  });

describe('timeout()', () => {
  it("totalMs rejects with kind 'total' and aborts the request", async () => {
    await using client = compose().use(timeout({ totalMs: 50 })).build({ baseUrl: server.url });
    const error = await client.get('/hang').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', kind: 'total', timeoutMs: 50 });
    expect((error as Error).message).toBe(`GET ${server.url}/hang: total timeout after 50 ms`);
  });

  it('a request within the bound succeeds and the layer leaves no deadline behind', async () => {
    let after: number | undefined = 0;
    const probe = defineMiddleware(async function probe(ctx, next) {
      const response = await next();
      after = ctx.deadline;
      return response;
    });
    await using client = compose().use(probe).use(timeout({ totalMs: 2_000 })).build({ baseUrl: server.url });
    expect(await (await client.get('/fast')).json()).toEqual({ fast: true });
    expect(after).toBeUndefined();
  });

  it('placed inside a retrying layer, attemptMs bounds each attempt and the next attempt runs', async () => {
    const local = await createTestServer();
    local.route('/first-slow', [{ delayMs: 400, json: { attempt: 1 } }, { json: { attempt: 2 } }]);
    try {
      await using client = compose().use(again(3)).use(timeout({ attemptMs: 60 })).build({ baseUrl: local.url });
      expect(await (await client.get('/first-slow')).json()).toEqual({ attempt: 2 });
      expect(local.hits('/first-slow')).toBe(2);
    } finally {
      await local.close();
    }
  });

  it('placed outside a retrying layer, totalMs bounds all attempts together', async () => {
    await using client = compose().use(timeout({ totalMs: 100 })).use(again(100)).use(timeout({ attemptMs: 30 })).build({ baseUrl: server.url });
    const before = server.hits('/hang');
    const started = Date.now();
    const error = await client.get('/hang').catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'total' });
    expect(Date.now() - started).toBeLessThan(2_000);
    const attempts = server.hits('/hang') - before;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(attempts).toBeLessThan(100);
  });

  it('an inner bound longer than the outer deadline keeps the outer one', async () => {
    let remaining = Infinity;
    const probe = defineMiddleware(async function probe(ctx, next) {
      remaining = ctx.remainingMs();
      return next();
    });
    await using client = compose().use(timeout({ totalMs: 80 })).use(timeout({ attemptMs: 10_000 })).use(probe).build({ baseUrl: server.url });
    await expect(client.get('/hang')).rejects.toMatchObject({ kind: 'total' });
    expect(remaining).toBeLessThanOrEqual(80);
  });

  it.each([
    ['undici', () => undiciTransport()],
    ['node-fetch', () => nodeFetchTransport()],
  ])("readMs reaches the %s transport: kind 'read' for slow headers and a stalled body", async (_name, transport) => {
    await using client = compose().use(timeout({ readMs: 60 })).build({ baseUrl: server.url, transport: transport() });
    await expect(client.get('/slow')).rejects.toMatchObject({ code: 'ERR_TIMEOUT', kind: 'read' });
    const stalled = await client.get('/slow-body');
    await expect(stalled.text()).rejects.toMatchObject({ kind: 'read' });
    expect(await (await client.get('/fast')).json()).toEqual({ fast: true });
  });

  it('describe() shows the resolved bounds', async () => {
    await using client = compose().use(timeout({ totalMs: 1_000, connectMs: 200 })).build();
    expect(client.describe()[0]).toEqual({ kind: 'middleware', name: 'timeout', options: { totalMs: 1_000, connectMs: 200 } });
  });

  it('rejects bad options at construction, naming the option and the value', () => {
    const messageOf = (fn: () => unknown): string => {
      try {
        fn();
      } catch (error) {
        expect(isInvalidOptionsError(error)).toBe(true);
        return (error as Error).message;
      }
      throw new Error('did not throw');
    };
    expect(messageOf(() => timeout({ totalMs: -1 }))).toBe('timeout.totalMs: expected a number > 0, got -1');
    expect(messageOf(() => timeout({ attemptMs: 'soon' as unknown as number }))).toBe('timeout.attemptMs: expected a number, got "soon"');
    expect(messageOf(() => timeout({}))).toContain('set at least one of totalMs, attemptMs, connectMs, readMs');
    expect(messageOf(() => timeout({ totalMS: 5 } as never))).toContain("unknown option 'totalMS'");
  });
});
