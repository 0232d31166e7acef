import { compose, isInvalidOptionsError } from '@shallot/core';
import { isNoHealthyEndpointError, loadBalancer, type LoadBalancerOptions, NoHealthyEndpointError } from '@shallot/load-balancer';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

const servers: TestServer[] = [];
async function backends(n: number): Promise<TestServer[]> {
  const started = await Promise.all(Array.from({ length: n }, () => createTestServer()));
  started.forEach((server, i) => server.route('*', (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ backend: i, url: request.url }));
  }));
  servers.push(...started);
  return started;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('loadBalancer: routing a request given as a path', () => {
  it('sends a path to the chosen endpoint and says which on ctx.endpoint', async () => {
    const [a] = await backends(1);
    await using client = compose().use(loadBalancer({ endpoints: [{ url: a!.url, metadata: { zone: 'eu-1' } }] })).build();
    const { response, context } = await client.exchange('GET', '/data/1?page=2');
    expect(await response.json()).toEqual({ backend: 0, url: '/data/1?page=2' });
    expect(context.endpoint).toEqual({
      url: a!.url,
      metadata: { zone: 'eu-1' },
      path: '/data/1?page=2',
      target: `${a!.url}/data/1?page=2`,
      picks: 1,
      tried: new Set(),
      panic: false,
    });
    expect(context.request.url.href).toBe(`${a!.url}/data/1?page=2`);
  });

  it("keeps an endpoint's base path in front of the request's path", async () => {
    const [a] = await backends(1);
    await using client = compose().use(loadBalancer({ endpoints: [`${a!.url}/api/v2/`] })).build();
    const { response, context } = await client.exchange('GET', '/items/7?x=1');
    expect(await response.json()).toEqual({ backend: 0, url: '/api/v2/items/7?x=1' });
    expect(context.endpoint.url).toBe(`${a!.url}/api/v2`);
    expect(context.endpoint.path).toBe('/items/7?x=1');
  });

  it('passes a full URL to another origin through untouched, without ctx.endpoint', async () => {
    const [a, b, other] = await backends(3);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url, b!.url] })).build();
    const { response, context } = await client.exchange('GET', `${other!.url}/elsewhere`);
    expect(await response.json()).toEqual({ backend: 2, url: '/elsewhere' });
    expect(context.endpoint).toBeUndefined();
    expect([a!.hits(), b!.hits()]).toEqual([0, 0]);
  });

  it("balances a full URL whose origin is an endpoint's, so baseUrl may name one of them", async () => {
    const [a, b, c] = await backends(3);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url, b!.url, c!.url] })).build({ baseUrl: a!.url });
    for (let i = 0; i < 6; i++) await (await client.get(`/n/${i}`)).arrayBuffer();
    expect([a!.hits(), b!.hits(), c!.hits()]).toEqual([2, 2, 2]);
    expect(c!.requests().map((r) => r.url)).toEqual(['/n/2', '/n/5']);
  });

  it('takes the path of a full URL after the base path of the endpoint it names', async () => {
    const [a, b] = await backends(2);
    await using client = compose().use(loadBalancer({ endpoints: [`${a!.url}/one`, `${b!.url}/two`] })).build();
    await (await client.get(`${a!.url}/one/x?q=1`)).arrayBuffer();
    await (await client.get(`${a!.url}/one/x?q=2`)).arrayBuffer();
    expect(a!.requests().map((r) => r.url)).toEqual(['/one/x?q=1']);
    expect(b!.requests().map((r) => r.url)).toEqual(['/two/x?q=2']);
  });

  it('sends the method, headers and body of the request unchanged', async () => {
    const [a] = await backends(1);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url] })).build();
    await (await client.post('/submit', { json: { n: 1 }, headers: { 'x-trace': 't1' } })).arrayBuffer();
    const [seen] = a!.requests();
    expect(seen!.method).toBe('POST');
    expect(seen!.headers['x-trace']).toBe('t1');
    expect(JSON.parse(seen!.body.toString())).toEqual({ n: 1 });
  });

  it('fails with NoHealthyEndpointError when the endpoint set is empty, sending nothing', async () => {
    await using client = compose().use(loadBalancer({ endpoints: [] })).build();
    const error = await client.get('/data/1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoHealthyEndpointError);
    expect(isNoHealthyEndpointError(error)).toBe(true);
    expect((error as NoHealthyEndpointError).code).toBe('ERR_NO_HEALTHY_ENDPOINT');
    expect((error as Error).message).toContain('GET /data/1');
  });

  it('is listed by describe() with its resolved options', async () => {
    const [a] = await backends(1);
    await using client = compose().use(loadBalancer({ endpoints: [a!.url], strategy: 'p2c-ewma' })).build();
    const [layer] = client.describe();
    expect(layer!.name).toBe('loadBalancer');
    expect(layer!.options).toMatchObject({ strategy: 'p2c-ewma', ewmaDecayMs: 10_000, outlierDetection: { consecutiveFailures: 5 } });
  });
});

describe('loadBalancer: options are validated at construction', () => {
  const cases: [string, unknown, string][] = [
    ['a missing endpoints', {}, 'loadBalancer.endpoints:'],
    ['an endpoint that is not a URL', { endpoints: ['http://127.0.0.1:1', 'nope'] }, 'loadBalancer.endpoints.1: expected an absolute http: or https: URL, got "nope"'],
    ['an endpoint with another protocol', { endpoints: ['ftp://x'] }, 'loadBalancer.endpoints.0: expected an http: or https: URL'],
    ['an endpoint with a query', { endpoints: ['http://x/?a=1'] }, 'loadBalancer.endpoints.0: an endpoint URL takes no query'],
    ['a weight of 0', { endpoints: [{ url: 'http://x', weight: 0 }] }, 'loadBalancer.endpoints.0.weight: expected a number > 0, got 0'],
    ['an unknown strategy', { endpoints: [], strategy: 'fastest' }, "loadBalancer.strategy: expected one of \"round-robin\" | \"weighted\""],
    ['a health check without a path', { endpoints: [], healthCheck: { intervalMs: 10 } }, 'loadBalancer.healthCheck.path:'],
    ['a health check path without its slash', { endpoints: [], healthCheck: { path: 'health' } }, 'loadBalancer.healthCheck.path: expected a path starting with "/", got "health"'],
    ['a status out of range', { endpoints: [], healthCheck: { path: '/h', expectStatus: [200, 700] } }, 'loadBalancer.healthCheck.expectStatus.1: expected a number <= 599, got 700'],
    ['an ejection percent over 100', { endpoints: [], outlierDetection: { maxEjectionPercent: 150 } }, 'loadBalancer.outlierDetection.maxEjectionPercent: expected a number <= 100, got 150'],
    ['a max ejection under the base', { endpoints: [], outlierDetection: { baseEjectionMs: 1_000, maxEjectionMs: 10 } }, 'loadBalancer.outlierDetection.maxEjectionMs: expected at least baseEjectionMs (1000), got 10'],
    ['refreshIntervalMs with a fixed list', { endpoints: [], refreshIntervalMs: 100 }, 'loadBalancer.refreshIntervalMs: only applies when endpoints is a function, got 100'],
    ['an unknown option', { endpoints: [], strategy: 'random', retries: 3 }, "loadBalancer: unknown option 'retries'"],
  ];
  for (const [what, options, message] of cases) {
    it(`names the path of ${what}`, () => {
      let thrown: unknown;
      try {
        loadBalancer(options as LoadBalancerOptions);
      } catch (error) {
        thrown = error;
      }
      expect(isInvalidOptionsError(thrown)).toBe(true);
      expect((thrown as Error).message).toContain(message);
    });
  }
});
