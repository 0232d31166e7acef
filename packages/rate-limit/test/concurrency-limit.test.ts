import { compose } from '@shallot/core';
import { timeout } from '@shallot/timeout';
import { createTestServer, settle, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { concurrencyLimit, isRateLimitExceededError, type RateLimitExceededError } from '@shallot/rate-limit';

let upstream: TestServer;
afterEach(async () => upstream?.close());

/** A route that takes `ms` and records how many requests it held at once, and in which order they came. */
async function slowServer(ms: number): Promise<{ peak: () => number; order: string[] }> {
  upstream = await createTestServer();
  let inFlight = 0;
  let peak = 0;
  const order: string[] = [];
  upstream.route('/slow', async (request, response) => {
    order.push(new URL(request.url, 'http://x').searchParams.get('n') ?? '');
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((resolve) => setTimeout(resolve, ms));
    inFlight--;
    response.end('ok');
  });
  return { peak: () => peak, order };
}

describe('concurrencyLimit', () => {
  it('holds at most max in flight, queues up to queue, and refuses the rest (reason: concurrency)', async () => {
    const probe = await slowServer(40);
    await using client = compose().use(concurrencyLimit({ max: 2, queue: 1 })).build({ baseUrl: upstream.url });
    const outcomes = await Promise.all(Array.from({ length: 5 }, (_, n) => settle(client.get(`/slow?n=${n}`))));
    expect(outcomes.filter((o) => o === 200)).toHaveLength(3);
    const refused = outcomes.filter(isRateLimitExceededError) as RateLimitExceededError[];
    expect(refused).toHaveLength(2);
    expect(refused.every((e) => e.reason === 'concurrency' && e.code === 'ERR_RATE_LIMITED' && e.key === 'global')).toBe(true);
    expect(probe.peak()).toBe(2);
    expect(upstream.hits('/slow')).toBe(3);
  });

  it('serves the queue first come, first served', async () => {
    const probe = await slowServer(10);
    await using client = compose().use(concurrencyLimit({ max: 1 })).build({ baseUrl: upstream.url });
    const outcomes = await Promise.all(Array.from({ length: 6 }, (_, n) => settle(client.get(`/slow?n=${n}`))));
    expect(outcomes).toEqual([200, 200, 200, 200, 200, 200]);
    expect(probe.order).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(probe.peak()).toBe(1);
  });

  it('keeps one bulkhead per key', async () => {
    const probe = await slowServer(30);
    await using client = compose().use(concurrencyLimit({ max: 1, queue: 0, key: { header: 'x-tenant' } })).build({ baseUrl: upstream.url });
    const as = (tenant: string, n: number) => settle(client.get(`/slow?n=${n}`, { headers: { 'x-tenant': tenant } }));
    const outcomes = await Promise.all([as('a', 0), as('b', 1), as('a', 2)]);
    expect(outcomes[0]).toBe(200);
    expect(outcomes[1]).toBe(200);
    expect((outcomes[2] as RateLimitExceededError).key).toBe('a');
    expect(probe.peak()).toBe(2);
  });

  it('lets a queued request leave when its deadline passes, without waiting for a slot', async () => {
    await slowServer(2_000);
    await using client = compose()
      .use(timeout({ totalMs: 60 }))
      .use(concurrencyLimit({ max: 1 }))
      .build({ baseUrl: upstream.url });
    const started = Date.now();
    const [first, second] = await Promise.all([settle(client.get('/slow?n=0')), settle(client.get('/slow?n=1'))]);
    expect(first).toBeInstanceOf(Error);
    expect((second as { code?: string }).code).toBe('ERR_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(upstream.hits('/slow')).toBe(1);
  });
});
