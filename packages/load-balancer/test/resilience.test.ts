import { circuitBreaker } from '@shallot/circuit-breaker';
import { compose } from '@shallot/core';
import { hedge } from '@shallot/hedge';
import { endpointOf, loadBalancer } from '@shallot/load-balancer';
import { retry } from '@shallot/retry';
import { createTestServer, type RouteSpec, settle, type TestServer, virtualClock, waitFor } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

const servers: TestServer[] = [];
async function backend(spec: RouteSpec, port?: number): Promise<TestServer> {
  const server = await createTestServer(port === undefined ? {} : { port });
  server.route('/health', { body: 'ok' }).route('*', spec);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const quickRetry = () => retry({ maxAttempts: 3, backoff: { kind: 'constant', delayMs: 1 } });

async function statuses(client: { get(url: string): Promise<Response> }, n: number, path = '/work'): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(await settle(client.get(path)));
  return out;
}

describe('loadBalancer: a backend goes down and comes back', () => {
  it('no failure reaches the caller with retry outside; the dead backend is ejected, then readmitted once it is back and passes health checks', async () => {
    const a = await backend({ body: 'a' });
    const b = await backend({ body: 'b' });
    const c = await backend({ body: 'c' });
    const balancer = loadBalancer({
      endpoints: [a.url, b.url, c.url],
      // Probes are slow to call it unhealthy here, so that the passive detection is what takes it out.
      healthCheck: { path: '/health', intervalMs: 10, timeoutMs: 1_000, healthyThreshold: 2, unhealthyThreshold: 50 },
      outlierDetection: { consecutiveFailures: 2, baseEjectionMs: 60_000 },
    });
    const events: string[] = [];
    balancer.onEject((e) => events.push(`eject ${e.endpoint}`));
    balancer.onReadmit((e) => events.push(`readmit ${e.endpoint} ${e.reason}`));
    balancer.onHealthChange((e) => events.push(`${e.healthy ? 'healthy' : 'unhealthy'} ${e.endpoint}`));
    await using client = compose().use(quickRetry()).use(balancer).build();

    expect(await statuses(client, 30)).toEqual(Array(30).fill(200));
    expect(b.hits('/work')).toBe(10);

    const port = b.port;
    await b.close();
    expect(await statuses(client, 60)).toEqual(Array(60).fill(200));
    const down = balancer.stats()[1]!;
    expect(down.ejected).toBe(true);
    expect(down.available).toBe(false);
    expect(down.failures).toBeGreaterThanOrEqual(2);
    expect(events).toContain(`eject ${b.url}`);

    const revived = await backend({ body: 'b again' }, port);
    await waitFor(() => events.includes(`readmit ${b.url} health-check`), { timeoutMs: 5_000 });
    expect(balancer.stats()[1]).toMatchObject({ ejected: false, healthy: true, available: true });

    expect(await statuses(client, 30)).toEqual(Array(30).fill(200));
    expect(revived.hits('/work')).toBe(10);
  });

  it('a retry goes to an endpoint this request has not tried yet', async () => {
    const a = await backend({ status: 503 });
    const b = await backend({ status: 503 });
    const c = await backend({ body: 'c' });
    await using client = compose()
      .use(quickRetry())
      .use(loadBalancer({ endpoints: [a.url, b.url, c.url], outlierDetection: false }))
      .build();
    for (let i = 0; i < 12; i++) {
      const { response, context } = await client.exchange('GET', '/work');
      expect(await response.text()).toBe('c');
      expect(context.endpoint.url).toBe(c.url);
      expect(context.endpoint.picks).toBe(context.endpoint.tried.size + 1);
      expect(context.endpoint.tried.has(c.url)).toBe(false);
    }
    // Never the same endpoint twice for one request: each failed endpoint at most once per request.
    expect(a.hits() + b.hits()).toBeLessThanOrEqual(24);
    expect(c.hits()).toBe(12);
  });
});

describe('loadBalancer: outlier detection', () => {
  it('never ejects more than maxEjectionPercent of the set', async () => {
    const broken = [await backend({ status: 503 }), await backend({ status: 503 }), await backend({ status: 503 })];
    const good = await backend({ body: 'ok' });
    const balancer = loadBalancer({
      endpoints: [...broken.map((s) => s.url), good.url],
      outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 50 },
    });
    await using client = compose().use(balancer).build();
    await statuses(client, 20);
    const ejected = balancer.stats().filter((s) => s.ejected);
    expect(ejected).toHaveLength(2);
    // The broken endpoint left in keeps its share: the good one does not take everything.
    const kept = broken.find((s) => !ejected.some((e) => e.url === s.url))!;
    const before = kept.hits();
    await statuses(client, 10);
    expect(kept.hits() - before).toBe(5);
    expect(balancer.stats().filter((s) => s.ejected)).toHaveLength(2);
  });

  it('ejects nobody with maxEjectionPercent 0, and counts 4xx as no failure', async () => {
    const broken = await backend({ status: 503 });
    const missing = await backend({ status: 404 });
    const balancer = loadBalancer({ endpoints: [broken.url, missing.url], outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 0 } });
    await using client = compose().use(balancer).build();
    await statuses(client, 10);
    expect([broken.hits(), missing.hits()]).toEqual([5, 5]);
    const [b, m] = balancer.stats();
    expect([b!.ejected, b!.failures, b!.consecutiveFailures]).toEqual([false, 5, 5]);
    expect([m!.ejected, m!.failures]).toEqual([false, 0]);
  });

  it('ejects for baseEjectionMs times the ejections so far, capped at maxEjectionMs, and the multiplier comes down while it stays in', async () => {
    const clock = virtualClock();
    const bad = await backend({ status: 503 });
    const good = await backend({ body: 'ok' });
    const balancer = loadBalancer({
      endpoints: [bad.url, good.url],
      clock,
      outlierDetection: { consecutiveFailures: 1, baseEjectionMs: 1_000, maxEjectionMs: 2_500, maxEjectionPercent: 50 },
    });
    const readmits: string[] = [];
    balancer.onReadmit((e) => readmits.push(e.reason));
    await using client = compose().use(balancer).build({ clock });

    const ejection = async (): Promise<number> => {
      for (let i = 0; i < 4 && !balancer.stats()[0]!.ejected; i++) await settle(client.get('/work'));
      const stats = balancer.stats()[0]!;
      expect(stats.ejected).toBe(true);
      return stats.ejectedUntil! - clock.now();
    };
    expect(await ejection()).toBe(1_000);
    await clock.advance(1_000);
    expect(await ejection()).toBe(2_000);
    expect(readmits).toEqual(['timeout']);
    await clock.advance(2_000);
    expect(await ejection()).toBe(2_500);
    expect(balancer.stats()[0]!.timesEjected).toBe(3);
    // Readmitted, then in for three base periods without a failure: the multiplier drops from 3 to 0.
    await clock.advance(2_500);
    await settle(client.get('/work')); // whichever endpoint it reaches, the bad one is readmitted now
    await clock.advance(3_000);
    expect(await ejection()).toBe(1_000);
  });

  it('spreads over every endpoint (panic mode) when none is available, instead of failing', async () => {
    const a = await backend({ status: 503 });
    const b = await backend({ status: 503 });
    const balancer = loadBalancer({ endpoints: [a.url, b.url], outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 100 } });
    await using client = compose().use(balancer).build();
    await statuses(client, 2);
    expect(balancer.stats().every((s) => s.ejected)).toBe(true);
    for (let i = 0; i < 4; i++) {
      const { response, context } = await client.exchange('GET', '/work');
      expect(response.status).toBe(503);
      expect(context.endpoint.panic).toBe(true);
    }
    expect([a.hits(), b.hits()]).toEqual([3, 3]);
  });

  it('enters panic mode below panicThresholdPercent of available endpoints', async () => {
    const bad = await backend({ status: 503 });
    const good = [await backend({ body: 'ok' }), await backend({ body: 'ok' })];
    const balancer = loadBalancer({
      endpoints: [bad.url, ...good.map((s) => s.url)],
      panicThresholdPercent: 70,
      outlierDetection: { consecutiveFailures: 1 },
    });
    await using client = compose().use(balancer).build();
    await statuses(client, 1);
    expect(balancer.stats()[0]!.ejected).toBe(true);
    // Two of three available is under 70 %: the ejected endpoint is still chosen.
    const { context } = await client.exchange('GET', '/work');
    expect(context.endpoint.panic).toBe(true);
    await statuses(client, 6);
    expect(bad.hits()).toBeGreaterThan(1);
  });
});

describe('loadBalancer: with a circuit breaker inside', () => {
  it('an open circuit takes its endpoint out of choice; the refused request goes to another endpoint at once', async () => {
    const bad = await backend({ status: 503 });
    const good = await backend({ body: 'ok' });
    const balancer = loadBalancer({ endpoints: [bad.url, good.url], outlierDetection: false });
    await using client = compose().use(balancer).use(circuitBreaker({ failureThreshold: 2, recoveryTimeoutMs: 60_000 })).build();
    const seen = await statuses(client, 20);
    // The bad endpoint answers twice before its circuit opens; every other request is answered by the good one.
    expect(seen.filter((s) => s === 503)).toHaveLength(2);
    expect(seen.filter((s) => s === 200)).toHaveLength(18);
    expect(bad.hits()).toBe(2);
    const [b] = balancer.stats();
    expect(b!.circuitOpenUntil).toBeGreaterThan(Date.now() + 50_000);
    expect(b!.available).toBe(false);
    // Only the two 503s count as failures; the refusal does not.
    expect(b!.failures).toBe(2);
  });

  it('a breaker keyed by ctx.endpoint.url tells apart endpoints that share a host', async () => {
    const server = await backend((request, response) => {
      response.writeHead(request.path.startsWith('/bad/') ? 503 : 200);
      response.end();
    });
    const balancer = loadBalancer({ endpoints: [`${server.url}/bad`, `${server.url}/good`], outlierDetection: false });
    const breaker = circuitBreaker({ key: (ctx) => endpointOf(ctx)?.url ?? ctx.request.url.host, failureThreshold: 1 });
    await using client = compose().use(balancer).use(breaker).build();
    const seen = await statuses(client, 10);
    expect(seen).toEqual([503, ...Array(9).fill(200)]);
    expect(breaker.state(`${server.url}/bad`)).toBe('open');
    expect(breaker.state(`${server.url}/good`)).toBe('closed');
  });

  it('with every circuit open, the breaker error reaches the caller without a request sent', async () => {
    const a = await backend({ status: 503 });
    const b = await backend({ status: 503 });
    await using client = compose()
      .use(loadBalancer({ endpoints: [a.url, b.url], outlierDetection: false }))
      .use(circuitBreaker({ failureThreshold: 1 }))
      .build();
    await statuses(client, 2);
    const error = await client.get('/work').catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ERR_CIRCUIT_OPEN');
    expect(a.hits() + b.hits()).toBe(2);
  });
});

describe('loadBalancer: with hedge outside', () => {
  it('a hedged copy is balanced on its own and the answer names the endpoint that gave it', async () => {
    const slow = await backend({ body: 'slow', delayMs: 300 });
    const fast = await backend({ body: 'fast' });
    await using client = compose()
      .use(hedge({ delayMs: 20 }))
      .use(loadBalancer({ endpoints: [slow.url, fast.url] }))
      .build();
    const { response, context } = await client.exchange('GET', '/work');
    expect(await response.text()).toBe('fast');
    expect(context.endpoint.url).toBe(fast.url);
    expect([slow.hits(), fast.hits()]).toEqual([1, 1]);
  });
});
