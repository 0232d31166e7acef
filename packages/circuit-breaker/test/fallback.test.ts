import { compose, defineMiddleware, isInvalidOptionsError, isMiddlewareProtocolError, isNetworkError } from '@shallot/core';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, fallback, isCircuitBreakerOpenError } from '@shallot/circuit-breaker';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function server(): Promise<TestServer> {
  const s = await createTestServer();
  servers.push(s);
  return s;
}

describe('fallback', () => {
  it('serves from a secondary service once the primary circuit is open, without touching the primary', async () => {
    const primary = await server();
    const secondary = await server();
    primary.route('/items', { action: 'reset' });
    secondary.route('/items', { json: { from: 'secondary' } });
    await using backup = compose().build({ baseUrl: secondary.url });
    await using client = compose()
      .use(fallback({ handler: (ctx) => backup.get(ctx.request.url.pathname), when: isCircuitBreakerOpenError }))
      .use(circuitBreaker({ failureThreshold: 2 }))
      .build({ baseUrl: primary.url });

    await expect(client.get('/items')).rejects.toSatisfy(isNetworkError);
    await expect(client.get('/items')).rejects.toSatisfy(isNetworkError);
    for (let i = 0; i < 3; i++) {
      const response = await client.get('/items');
      expect(await response.json()).toEqual({ from: 'secondary' });
    }
    expect(primary.hits('/items')).toBe(2);
    expect(secondary.hits('/items')).toBe(3);
  });

  it('answers every failure by default, and hands the handler the error', async () => {
    const upstream = await server();
    upstream.route('/x', { action: 'reset' });
    const seen: unknown[] = [];
    await using client = compose()
      .use(fallback({ handler: (_ctx, error) => (seen.push(error), Response.json({ cached: true })) }))
      .build({ baseUrl: upstream.url });
    const response = await client.get('/x');
    expect(await response.json()).toEqual({ cached: true });
    expect(seen).toHaveLength(1);
    expect(isNetworkError(seen[0])).toBe(true);
  });

  it('leaves errors that `when` declines alone', async () => {
    const upstream = await server();
    upstream.route('/x', { action: 'reset' });
    await using client = compose()
      .use(fallback({ handler: () => new Response('canned'), when: isCircuitBreakerOpenError }))
      .build({ baseUrl: upstream.url });
    await expect(client.get('/x')).rejects.toSatisfy(isNetworkError);
  });

  it('answers listed statuses, giving the handler an HttpError with the response', async () => {
    const upstream = await server();
    upstream.route('/x', { status: 503, body: 'overloaded' });
    upstream.route('/ok', { status: 200, body: 'fine' });
    await using client = compose()
      .use(
        fallback({
          statuses: [503],
          handler: async (_ctx, error) => new Response(`fallback after ${(error as { status: number }).status}: ${await (error as { response: Response }).response.text()}`),
        }),
      )
      .build({ baseUrl: upstream.url });
    expect(await (await client.get('/x')).text()).toBe('fallback after 503: overloaded');
    expect(await (await client.get('/ok')).text()).toBe('fine');
  });

  it('does not answer the caller’s own abort', async () => {
    const upstream = await server();
    upstream.route('/slow', { delayMs: 200 });
    let called = 0;
    await using client = compose()
      .use(fallback({ handler: () => (called++, new Response('canned')) }))
      .build({ baseUrl: upstream.url });
    const controller = new AbortController();
    const pending = client.get('/slow', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toThrow();
    expect(called).toBe(0);
  });

  it('requires a handler', () => {
    expect(() => fallback({} as never)).toThrow(/fallback\.handler: expected a function/);
    let thrown: unknown;
    try {
      fallback({ handler: 'nope' } as never);
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionsError(thrown)).toBe(true);
  });
});

describe('fallback defaults', () => {
  it('does not hide usage errors such as a middleware breaking the next() rules', async () => {
    const upstream = await server();
    upstream.route('/x', { status: 200 });
    const twice = defineMiddleware(async function twice(_ctx, next) {
      void next().catch(() => {});
      return next();
    });
    let called = 0;
    await using client = compose()
      .use(fallback({ handler: () => (called++, new Response('canned')) }))
      .use(twice)
      .build({ baseUrl: upstream.url });
    await expect(client.get('/x')).rejects.toSatisfy(isMiddlewareProtocolError);
    expect(called).toBe(0);
  });
});
