import { compose, isInvalidOptionsError, isNetworkError, isTimeoutError } from '@shallot/core';
import { type ChaosOutcomeKind, chaosFaultKinds, createChaosUpstream, waitFor } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const only = (kind: ChaosOutcomeKind): Record<string, number> => Object.fromEntries(chaosFaultKinds.map((k) => [k, k === kind ? 1 : 0]));

/** What one GET got: a status and how reading its body ended, or the error it rejected with. */
async function outcome(url: string): Promise<{ status?: number; body?: number; bodyError?: unknown; error?: unknown; headers?: Headers }> {
  await using client = compose().build({ timeoutMs: 300 });
  try {
    const response = await client.get(url, { headers: { 'x-chaos-tag': '7' } });
    try {
      return { status: response.status, headers: response.headers, body: (await response.arrayBuffer()).byteLength };
    } catch (bodyError) {
      return { status: response.status, bodyError };
    }
  } catch (error) {
    return { error };
  }
}

describe('createChaosUpstream', () => {
  it('injects each fault as described', async () => {
    const seen: Record<string, Awaited<ReturnType<typeof outcome>>> = {};
    for (const kind of [...chaosFaultKinds.filter((k) => k !== 'refused'), 'success'] as const) {
      await using upstream = await createChaosUpstream({ rates: only(kind), bigBodyBytes: 1024 * 1024, retryAfterSeconds: 3, trickle: { chunks: 3, chunkDelayMs: 5 } });
      seen[kind] = await outcome(`${upstream.url}/x`);
      expect(upstream.stats().injected[kind], kind).toBe(1);
      expect(upstream.arrivals(7)).toBe(1);
    }
    expect(isNetworkError(seen.resetHeaders?.error)).toBe(true);
    expect(isNetworkError(seen.invalidHeader?.error)).toBe(true);
    expect(isTimeoutError(seen.hang?.error)).toBe(true);
    expect(seen.resetBody).toMatchObject({ status: 200 });
    expect(isNetworkError(seen.resetBody?.bodyError)).toBe(true);
    expect(seen.truncated).toMatchObject({ status: 200 });
    expect(isNetworkError(seen.truncated?.bodyError)).toBe(true);
    expect(seen.trickle).toMatchObject({ status: 200, body: 3 * 256 });
    expect([500, 502, 503, 504]).toContain(seen.serverErrorBurst?.status);
    expect(seen.tooManyRequests?.status).toBe(429);
    expect(seen.tooManyRequests?.headers?.get('retry-after')).toBe('3');
    expect(seen.bigBody).toMatchObject({ status: 200, body: 1024 * 1024 });
    expect(seen.success).toMatchObject({ status: 200, body: 11 });
  });

  it('sends the refused share to a closed port', async () => {
    await using upstream = await createChaosUpstream({ rates: only('refused') });
    expect(upstream.nextOrigin()).toBe(upstream.refusedUrl);
    const { error } = await outcome(`${upstream.refusedUrl}/x`);
    expect(isNetworkError(error)).toBe(true);
    expect(String((error as Error).message)).toContain('ECONNREFUSED');
    expect(upstream.stats()).toMatchObject({ arrivals: 0, injected: { refused: 1 } });
  });

  it('a 5xx burst answers every arrival for its duration', async () => {
    await using upstream = await createChaosUpstream({ rates: { ...only('serverErrorBurst'), serverErrorBurst: 0.5 }, seed: 3, burstMs: [60_000, 60_000] });
    await using client = compose().build();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await client.get(`${upstream.url}/x`);
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    // Once the first burst starts, everything after it is a 5xx.
    const first = statuses.findIndex((s) => s >= 500);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(statuses.slice(first).every((s) => s >= 500)).toBe(true);
    expect(upstream.stats().bursts).toBe(1);
  });

  it('draws the same faults in the same order for the same seed', async () => {
    const run = async (seed: number): Promise<number[]> => {
      await using upstream = await createChaosUpstream({ seed, rates: { refused: 0, hang: 0, bigBody: 0, trickle: 0, serverErrorBurst: 0, tooManyRequests: 0.3, truncated: 0, resetHeaders: 0, resetBody: 0, invalidHeader: 0 } });
      await using client = compose().build();
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const response = await client.get(`${upstream.url}/x`);
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      return statuses;
    };
    const first = await run(42);
    expect(await run(42)).toEqual(first);
    expect(first).toContain(429);
    expect(first).toContain(200);
  });

  it('counts arrivals per tag and closes hung connections', async () => {
    const upstream = await createChaosUpstream({ rates: only('hang') });
    const client = compose().build();
    const pending = [client.get(`${upstream.url}/x`, { headers: { 'x-chaos-tag': '5' } }), client.get(`${upstream.url}/y`, { headers: { 'x-chaos-tag': '5' } })].map((p) => p.catch((e: unknown) => e));
    await waitFor(() => upstream.arrivals(5) === 2);
    expect(upstream.repeatedTags()).toBe(1);
    expect(upstream.connections().open).toBe(2);
    await upstream.close();
    expect(upstream.connections().open).toBe(0);
    for (const error of await Promise.all(pending)) expect(isNetworkError(error)).toBe(true);
    await client.close();
  });

  it('refuses rates that add up to more than 1, naming the option', async () => {
    const error = await createChaosUpstream({ rates: { hang: 0.6, trickle: 0.6 } }).catch((e: unknown) => e);
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^createChaosUpstream\.rates: the rates add up to more than 1/);
  });
});
