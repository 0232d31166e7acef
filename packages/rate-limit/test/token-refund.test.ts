import { compose, defineMiddleware } from '@shallot/core';
import { createTestServer, settle, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { circuitBreaker, hostKey, isCircuitBreakerOpenError } from '@shallot/circuit-breaker';
import { isRateLimitExceededError, rateLimit } from '@shallot/rate-limit';

let upstream: TestServer;
afterEach(async () => upstream?.close());

describe('rateLimit tokens pay only for requests that reach the network', () => {
  it('spends no token on a request an inner open circuit refuses', async () => {
    upstream = await createTestServer();
    upstream.route('/x', { status: 500 });
    const breaker = circuitBreaker({ failureThreshold: 1 });
    await using client = compose()
      .use(rateLimit({ limit: 2, intervalMs: 60_000, mode: 'reject' }))
      .use(breaker)
      .build({ baseUrl: upstream.url });
    const key = hostKey(new URL(upstream.url));

    expect(await settle(client.get('/x'))).toBe(500);
    for (let i = 0; i < 5; i++) expect(isCircuitBreakerOpenError(await settle(client.get('/x')))).toBe(true);
    await breaker.reset(key);
    // The second token is still there: the five refusals cost nothing.
    expect(await settle(client.get('/x'))).toBe(500);
    // Now the bucket is empty: the limiter (outside) refuses before the circuit is asked.
    expect(isRateLimitExceededError(await settle(client.get('/x')))).toBe(true);
    expect(upstream.hits('/x')).toBe(2);
  });

  it('spends no token on a request an inner layer answers itself', async () => {
    upstream = await createTestServer();
    upstream.route('/x', { status: 200 });
    const answerPing = defineMiddleware(async function answerPing(ctx, next) {
      if (ctx.request.url.pathname === '/ping') return new Response('pong');
      return next();
    });
    await using client = compose()
      .use(rateLimit({ limit: 1, intervalMs: 60_000, mode: 'reject' }))
      .use(answerPing)
      .build({ baseUrl: upstream.url });
    for (let i = 0; i < 5; i++) expect(await settle(client.get('/ping'))).toBe(200);
    expect(await settle(client.get('/x'))).toBe(200);
    expect(isRateLimitExceededError(await settle(client.get('/x')))).toBe(true);
    expect(upstream.hits()).toBe(1);
  });
});
