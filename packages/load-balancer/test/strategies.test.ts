import { compose } from '@shallot/core';
import { loadBalancer, type Strategy } from '@shallot/load-balancer';
import { createTestServer, type Reply, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

const servers: TestServer[] = [];
async function backends(replies: Reply[]): Promise<TestServer[]> {
  const started = await Promise.all(replies.map(async (reply) => (await createTestServer()).route('*', reply)));
  servers.push(...started);
  return started;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Sends `total` GETs, `concurrency` at a time, reading every body. */
async function load(client: { get(url: string): Promise<Response> }, total: number, concurrency: number): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      const response = await client.get('/work');
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('loadBalancer: strategies', () => {
  it('round-robin spreads 300 requests 100/100/100', async () => {
    const [a, b, c] = await backends([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url, b!.url, c!.url] })).build();
    await load(client, 300, 1);
    expect([a!.hits(), b!.hits(), c!.hits()]).toEqual([100, 100, 100]);
  });

  it('round-robin keeps the turn with requests in flight at once', async () => {
    const [a, b, c] = await backends([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url, b!.url, c!.url], strategy: 'round-robin' })).build();
    await load(client, 300, 10);
    expect([a!.hits(), b!.hits(), c!.hits()]).toEqual([100, 100, 100]);
  });

  it('weighted spreads 3:1:1, smoothly (never three in a row for the heavy one when weights are 3:1:1)', async () => {
    const [a, b, c] = await backends([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    await using client = compose()
      .use(loadBalancer({ endpoints: [{ url: a!.url, weight: 3 }, { url: b!.url, weight: 1 }, { url: c!.url, weight: 1 }], strategy: 'weighted' }))
      .build();
    const order: string[] = [];
    for (let i = 0; i < 500; i++) order.push(await (await client.get('/work')).text());
    const shares = [a!.hits(), b!.hits(), c!.hits()].map((n) => n / 500);
    expect(shares[0]).toBeCloseTo(0.6, 1);
    for (const [share, expected] of [[shares[0], 0.6], [shares[1], 0.2], [shares[2], 0.2]] as const) {
      expect(Math.abs(share! - expected)).toBeLessThanOrEqual(0.02);
    }
    // nginx's smooth weighted round-robin: a a b a c, repeated.
    expect(order.slice(0, 10).join('')).toBe('abacaabaca');
  });

  it('random follows the weights (3:1 over 400 requests, within a wide margin)', async () => {
    const [a, b] = await backends([{ body: 'a' }, { body: 'b' }]);
    await using client = compose().use(loadBalancer({ endpoints: [{ url: a!.url, weight: 3 }, b!.url], strategy: 'random' })).build();
    await load(client, 400, 4);
    expect(a!.hits() + b!.hits()).toBe(400);
    // Binomial(400, 0.75): mean 300, sd 8.7; 240..360 is ±6.9 sd.
    expect(a!.hits()).toBeGreaterThan(240);
    expect(a!.hits()).toBeLessThan(360);
  });

  for (const strategy of ['least-request', 'p2c-ewma'] as Strategy[]) {
    it(`${strategy} prefers the fast backend`, async () => {
      const [fast, slow] = await backends([{ body: 'fast' }, { body: 'slow', delayMs: 40 }]);
      const balancer = loadBalancer({ endpoints: [fast!.url, slow!.url], strategy });
      await using client = compose().use(balancer).build();
      await load(client, 200, 8);
      expect(fast!.hits() + slow!.hits()).toBe(200);
      // Round-robin would send 100 to each.
      expect(fast!.hits()).toBeGreaterThan(slow!.hits() * 3);
      const [fastStats, slowStats] = balancer.stats();
      expect(fastStats!.requests).toBe(fast!.hits());
      expect(slowStats!.ewmaLatencyMs).toBeGreaterThan(fastStats!.ewmaLatencyMs);
      expect(fastStats!.inFlight + slowStats!.inFlight).toBe(0);
    });
  }
});
