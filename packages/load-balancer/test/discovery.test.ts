import { compose, isInvalidOptionsError, isTimeoutError } from '@shallot/core';
import { type EndpointInput, type EndpointsChangeEvent, isNoHealthyEndpointError, loadBalancer } from '@shallot/load-balancer';
import { createTestServer, settle, type TestServer, waitFor } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';

const servers: TestServer[] = [];
async function backends(n: number, delayMs?: number): Promise<TestServer[]> {
  const started = await Promise.all(Array.from({ length: n }, async (_, i) => (await createTestServer()).route('*', { body: `s${i}`, delayMs })));
  servers.push(...started);
  return started;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An async iterable the test pushes endpoint lists into. */
function channel(): AsyncIterable<EndpointInput[]> & { push(list: EndpointInput[]): void; end(): void } {
  const queue: EndpointInput[][] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  return {
    push(list) {
      queue.push(list);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}

describe('loadBalancer: endpoints given by a function', () => {
  it('reads the set again every refreshIntervalMs and routes to the new endpoints', async () => {
    const [a, b, c] = await backends(3);
    let current: EndpointInput[] = [a!.url, b!.url];
    const balancer = loadBalancer({ endpoints: () => current, refreshIntervalMs: 10 });
    const changes: EndpointsChangeEvent[] = [];
    balancer.onEndpointsChange((e) => changes.push(e));
    await using client = compose().use(balancer).build();
    expect(await Promise.all([1, 2, 3, 4].map(() => settle(client.get('/x'))))).toEqual([200, 200, 200, 200]);
    expect([a!.hits(), b!.hits(), c!.hits()]).toEqual([2, 2, 0]);

    current = [b!.url, { url: c!.url, metadata: { zone: 'z2' } }];
    await waitFor(() => changes.length > 0);
    expect(changes[0]).toEqual({ endpoints: [b!.url, c!.url], added: [c!.url], removed: [a!.url] });
    for (let i = 0; i < 4; i++) await settle(client.get('/x'));
    expect([a!.hits(), b!.hits(), c!.hits()]).toEqual([2, 4, 2]);
    expect(balancer.stats().map((s) => [s.url, s.metadata])).toEqual([[b!.url, {}], [c!.url, { zone: 'z2' }]]);
  });

  it('waits for an async provider before the first request, and refresh() asks again at once', async () => {
    const [a, b] = await backends(2);
    let calls = 0;
    const balancer = loadBalancer({
      endpoints: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        return calls === 1 ? [a!.url] : [b!.url];
      },
    });
    await using client = compose().use(balancer).build();
    expect(await (await client.get('/first')).text()).toBe('s0');
    await balancer.refresh();
    expect(await (await client.get('/second')).text()).toBe('s1');
    expect(calls).toBe(2);
  });

  it('keeps the last good set when the provider throws or gives an invalid set, and says so', async () => {
    const [a] = await backends(1);
    let mode: 'ok' | 'throw' | 'invalid' = 'ok';
    const balancer = loadBalancer({
      endpoints: () => {
        if (mode === 'throw') throw new Error('registry down');
        return mode === 'ok' ? [a!.url] : [a!.url, 'not a url'];
      },
    });
    const errors: unknown[] = [];
    balancer.onDiscoveryError((e) => errors.push(e.error));
    await using client = compose().use(balancer).build();
    mode = 'throw';
    await balancer.refresh();
    mode = 'invalid';
    await balancer.refresh();
    expect((errors[0] as Error).message).toBe('registry down');
    expect(isInvalidOptionsError(errors[1])).toBe(true);
    expect((errors[1] as Error).message).toContain('loadBalancer.endpoints.1: expected an absolute http: or https: URL, got "not a url"');
    expect(await settle(client.get('/x'))).toBe(200);
    expect(a!.hits()).toBe(1);
  });

  it('fails with NoHealthyEndpointError, the provider error as cause, when the first set never came', async () => {
    const balancer = loadBalancer({ endpoints: () => Promise.reject(new Error('no registry')) });
    await using client = compose().use(balancer).build();
    const error = await client.get('/x').catch((e: unknown) => e);
    expect(isNoHealthyEndpointError(error)).toBe(true);
    expect(((error as Error).cause as Error).message).toBe('no registry');
  });

  it('fails with NoHealthyEndpointError when the provider gives an empty set', async () => {
    await using client = compose().use(loadBalancer({ endpoints: () => [] })).build();
    expect(isNoHealthyEndpointError(await client.get('/x').catch((e: unknown) => e))).toBe(true);
  });
});

describe('loadBalancer: endpoints given by an async iterable', () => {
  it('waits for the first set, replaces the set with every value, and lets requests in flight to a removed endpoint finish', async () => {
    const [slow] = await backends(1, 150);
    const [a, b] = await backends(2);
    const source = channel();
    const balancer = loadBalancer({ endpoints: source });
    await using client = compose().use(balancer).build();

    const early = client.get('/early');
    source.push([slow!.url]);
    const inFlight = await early;
    expect(await inFlight.text()).toBe('s0');

    const pending = settle(client.get('/slow'));
    await waitFor(() => slow!.hits() === 2);
    source.push([a!.url, b!.url]);
    await waitFor(() => balancer.stats().length === 2);
    expect(await pending).toBe(200);
    for (let i = 0; i < 4; i++) await settle(client.get('/x'));
    expect([slow!.hits(), a!.hits(), b!.hits()]).toEqual([2, 2, 2]);
    source.end();
  });

  it('a request waiting for the first set gives up at its deadline or on its abort', async () => {
    const source = channel();
    await using client = compose().use(loadBalancer({ endpoints: source })).build();
    const timedOut = await client.get('/x', { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(isTimeoutError(timedOut)).toBe(true);
    const controller = new AbortController();
    const aborted = client.get('/x', { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('caller gave up'));
    expect(((await aborted) as Error).message).toBe('caller gave up');
    source.end();
  });

  it('close() stops reading the iterable', async () => {
    const [a] = await backends(1);
    const source = channel();
    const balancer = loadBalancer({ endpoints: source });
    const client = compose().use(balancer).build();
    source.push([a!.url]);
    await waitFor(() => balancer.stats().length === 1);
    await client.close();
    source.push([]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(balancer.stats()).toHaveLength(1);
  });
});
