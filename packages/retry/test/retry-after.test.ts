import { compose } from '@shallot/core';
import { type GiveUpEvent, retry } from '@shallot/retry';
import { createTestServer, virtualClock, waitFor } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { describe, expect, it } from 'vitest';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('retry: Retry-After', () => {
  it('503 with Retry-After: 1 waits one second (virtual clock), then retries', async () => {
    await using server = await createTestServer();
    server.route('/busy', [{ status: 503, retryAfter: 1 }, { json: { ok: true } }]);
    const clock = virtualClock();
    await using client = compose()
      .use(retry({ backoff: { kind: 'constant', delayMs: 5 } }))
      .build({ baseUrl: server.url, clock });
    const pending = client.exchange('GET', '/busy');
    await waitFor(() => server.hits('/busy') === 1 && clock.pendingTimers === 1);
    await clock.advance(999);
    await pause(30);
    expect(server.hits('/busy')).toBe(1);
    await clock.advance(1);
    const { response, context } = await pending;
    expect(response.status).toBe(200);
    expect(server.hits('/busy')).toBe(2);
    expect(context.retry.delaysMs).toEqual([1_000]);
  });

  it('429 with Retry-After as an HTTP date waits until that date', async () => {
    await using server = await createTestServer();
    const start = Date.parse('2030-01-01T00:00:00.000Z');
    server.route('/limited', [{ status: 429, retryAfter: new Date(start + 2_000).toUTCString() }, { json: { ok: true } }]);
    const clock = virtualClock({ startMs: start });
    await using client = compose().use(retry()).build({ baseUrl: server.url, clock });
    const pending = client.exchange('GET', '/limited');
    await waitFor(() => server.hits('/limited') === 1 && clock.pendingTimers === 1);
    await clock.advance(2_000);
    const { response, context } = await pending;
    expect(response.status).toBe(200);
    expect(context.retry.delaysMs).toEqual([2_000]);
  });

  it('a sub-second HTTP date in the past retries at once on the real clock', async () => {
    await using server = await createTestServer();
    server.route('/was-busy', [{ status: 503, retryAfter: new Date(Date.now() - 5_000).toUTCString() }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: { kind: 'constant', delayMs: 5_000 } })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/was-busy');
    expect(response.status).toBe(200);
    expect(context.retry.delaysMs).toEqual([0]);
  });

  it('Retry-After beyond the deadline gives up at once, returning the response', async () => {
    await using server = await createTestServer();
    server.route('/busy', { status: 503, retryAfter: 30, body: 'come back later' });
    const events: GiveUpEvent[] = [];
    await using client = compose()
      .use(timeout({ totalMs: 2_000 }))
      .use(retry({ onGiveUp: (e) => events.push(e) }))
      .build({ baseUrl: server.url });
    const started = Date.now();
    const { response, context } = await client.exchange('GET', '/busy');
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('come back later');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(server.hits('/busy')).toBe(1);
    expect(context.retry.exhausted).toBe(true);
    expect(context.retry.delaysMs).toEqual([]);
    expect(events.map((e) => e.reason)).toEqual(['deadline']);
  });

  it('Retry-After beyond maxRetryAfterMs gives up at once', async () => {
    await using server = await createTestServer();
    server.route('/busy', { status: 429, retryAfter: 3 });
    const events: GiveUpEvent[] = [];
    await using client = compose()
      .use(retry({ maxRetryAfterMs: 2_000, onGiveUp: (e) => events.push(e) }))
      .build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/busy');
    expect(response.status).toBe(429);
    expect(server.hits('/busy')).toBe(1);
    expect(context.retry.exhausted).toBe(true);
    expect(events.map((e) => e.reason)).toEqual(['retry-after']);
  });

  it('respectRetryAfter: false uses the backoff instead', async () => {
    await using server = await createTestServer();
    server.route('/busy', [{ status: 503, retryAfter: 30 }, { json: { ok: true } }]);
    await using client = compose()
      .use(retry({ respectRetryAfter: false, backoff: { kind: 'constant', delayMs: 2 } }))
      .build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/busy');
    expect(response.status).toBe(200);
    expect(context.retry.delaysMs).toEqual([2]);
  });

  it('Retry-After on a 500 is not honoured (only 429 and 503 carry it)', async () => {
    await using server = await createTestServer();
    server.route('/oops', [{ status: 500, retryAfter: 30 }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: { kind: 'constant', delayMs: 2 } })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/oops');
    expect(response.status).toBe(200);
    expect(context.retry.delaysMs).toEqual([2]);
  });
});
