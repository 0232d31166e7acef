import { compose } from '@shallot/core';
import { type HealthChangeEvent, loadBalancer } from '@shallot/load-balancer';
import { createTestServer, settle, testCertificates, type TestServer, virtualClock, waitFor } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A backend whose /health answers `health.status` (200 until changed). */
async function backend(name: string, tls?: Parameters<typeof createTestServer>[0]): Promise<TestServer & { health: { status: number } }> {
  const server = await createTestServer(tls);
  const health = { status: 200 };
  server.route('/health', (_request, response) => {
    response.writeHead(health.status);
    response.end();
  });
  server.route('*', { body: name });
  servers.push(server);
  return Object.assign(server, { health });
}

describe('loadBalancer: active health checks', () => {
  it('takes an endpoint out after unhealthyThreshold failed probes and back after healthyThreshold passes', async () => {
    const a = await backend('a');
    const b = await backend('b');
    const balancer = loadBalancer({
      endpoints: [a.url, b.url],
      healthCheck: { path: '/health', intervalMs: 5, jitterMs: 2, healthyThreshold: 3, unhealthyThreshold: 2 },
    });
    const changes: HealthChangeEvent[] = [];
    balancer.onHealthChange((e) => changes.push(e));
    await using client = compose().use(balancer).build();

    b.health.status = 500;
    await waitFor(() => changes.length === 1);
    expect(changes[0]).toMatchObject({ endpoint: b.url, healthy: false, status: 500 });
    expect(balancer.stats()[1]).toMatchObject({ healthy: false, available: false, ejected: false });
    const before = b.hits('/x');
    for (let i = 0; i < 6; i++) await settle(client.get('/x'));
    expect(b.hits('/x')).toBe(before);

    b.health.status = 200;
    await waitFor(() => changes.length === 2);
    expect(changes[1]).toMatchObject({ endpoint: b.url, healthy: true, status: 200 });
    for (let i = 0; i < 6; i++) await settle(client.get('/x'));
    expect(b.hits('/x')).toBe(before + 3);
  });

  it('passes only the statuses in expectStatus, and probes the path after the base path with the given method and headers', async () => {
    const a = await backend('a');
    a.route('/svc/ready', { status: 204 });
    const balancer = loadBalancer({
      endpoints: [`${a.url}/svc`],
      healthCheck: { path: '/ready', intervalMs: 5, expectStatus: [200], unhealthyThreshold: 1, method: 'HEAD', headers: { 'x-probe': '1' } },
    });
    const changes: HealthChangeEvent[] = [];
    balancer.onHealthChange((e) => changes.push(e));
    await using client = compose().use(balancer).build();
    await waitFor(() => changes.length === 1);
    expect(changes[0]).toMatchObject({ healthy: false, status: 204 });
    const probe = a.requests('/svc/ready')[0]!;
    expect(probe.method).toBe('HEAD');
    expect(probe.headers['x-probe']).toBe('1');
    // Nothing healthy: panic mode still answers.
    expect(await (await client.get('/x')).text()).toBe('a');
  });

  it('a probe that does not answer within timeoutMs fails', async () => {
    const a = await backend('a');
    a.route('/health', { action: 'hang' });
    const balancer = loadBalancer({ endpoints: [a.url], healthCheck: { path: '/health', intervalMs: 5, timeoutMs: 20, unhealthyThreshold: 1 } });
    const changes: HealthChangeEvent[] = [];
    balancer.onHealthChange((e) => changes.push(e));
    await using client = compose().use(balancer).build();
    await waitFor(() => changes.length === 1);
    expect((changes[0]!.error as { code?: string }).code).toBe('ERR_TIMEOUT');
    expect(client.closed).toBe(false);
  });

  it('probes https endpoints with healthCheck.tls', async () => {
    const certs = testCertificates();
    const secure = await backend('s', { tls: { key: certs.key, cert: certs.cert } });
    const trusted = loadBalancer({ endpoints: [secure.url], healthCheck: { path: '/health', intervalMs: 5, unhealthyThreshold: 1, tls: { ca: certs.ca } } });
    const untrusted = loadBalancer({ endpoints: [secure.url], healthCheck: { path: '/health', intervalMs: 5, unhealthyThreshold: 1 } });
    const changes: HealthChangeEvent[] = [];
    untrusted.onHealthChange((e) => changes.push(e));
    trusted.onHealthChange((e) => changes.push(e));
    await using _a = compose().use(trusted).build();
    await using _b = compose().use(untrusted).build();
    await waitFor(() => secure.hits('/health') >= 4 && changes.length === 1);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ healthy: false });
    expect((changes[0]!.error as { code?: string }).code).toBe('ERR_NETWORK');
    expect(trusted.stats()[0]!.healthy).toBe(true);
  });

  it('stops on client.close(): no timer is left and no probe is sent afterwards', async () => {
    const clock = virtualClock();
    const a = await backend('a');
    const b = await backend('b');
    const balancer = loadBalancer({ endpoints: [a.url, b.url], clock, healthCheck: { path: '/health', intervalMs: 50 } });
    const client = compose().use(balancer).build({ clock });
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(5);
    await waitFor(() => a.hits('/health') === 1 && b.hits('/health') === 1);
    await waitFor(() => clock.pendingTimers === 2);
    await client.close();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(500);
    expect([a.hits('/health'), b.hits('/health')]).toEqual([1, 1]);
  });

  it('stops with the real clock too: the probe count stays put after close()', async () => {
    const a = await backend('a');
    const client = compose()
      .use(loadBalancer({ endpoints: [a.url], healthCheck: { path: '/health', intervalMs: 5 } }))
      .build();
    await waitFor(() => a.hits('/health') >= 2);
    await client.close();
    const probes = a.hits('/health');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a.hits('/health')).toBe(probes);
  });

  it('close() aborts a probe in flight', async () => {
    const a = await backend('a');
    a.route('/health', { action: 'hang' });
    const client = compose()
      .use(loadBalancer({ endpoints: [a.url], healthCheck: { path: '/health', intervalMs: 5, timeoutMs: 60_000 } }))
      .build();
    await waitFor(() => a.hits('/health') === 1);
    // Without the abort, the transport would wait out its 2 s grace before dropping the socket.
    const closing = client.close();
    await waitFor(() => a.requests('/health')[0]!.aborted, { timeoutMs: 1_000 });
    await closing;
  });

  it('probes endpoints added at run time and stops probing removed ones', async () => {
    const a = await backend('a');
    const b = await backend('b');
    let current = [a.url];
    const balancer = loadBalancer({ endpoints: () => current, refreshIntervalMs: 5, healthCheck: { path: '/health', intervalMs: 5 } });
    await using _client = compose().use(balancer).build();
    await waitFor(() => a.hits('/health') >= 1);
    current = [b.url];
    await waitFor(() => b.hits('/health') >= 2);
    const probes = a.hits('/health');
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(a.hits('/health')).toBeLessThanOrEqual(probes + 1);
  });
});
