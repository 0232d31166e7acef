import { chaosFaultKinds } from '@shallot/testing';
import { runSoak, type SoakReport } from '@shallot/reliability';
import { describe, expect, it } from 'vitest';

// The short chaos soak (`npm run soak` is the long one): higher rates for the rare faults, so a
// run of 1,500 requests per transport meets every kind of fault.
const rates = {
  refused: 0.02,
  resetHeaders: 0.02,
  resetBody: 0.02,
  hang: 0.01,
  trickle: 0.02,
  truncated: 0.02,
  serverErrorBurst: 0.001,
  tooManyRequests: 0.02,
  invalidHeader: 0.01,
  bigBody: 0.008,
};

const expectInvariants = (report: SoakReport): void => {
  expect(report.requests).toBeGreaterThan(0);
  // Every request settled, once, with a Response or a typed shallot error (or its caller's own abort reason).
  expect(report.notSettledOnce).toBe(0);
  expect(report.untyped, report.untypedSamples.join('\n')).toBe(0);
  expect(report.unhandledRejections).toBe(0);
  // POSTs without an Idempotency-Key reached the upstream at most once each.
  expect(report.posts.arrived).toBeGreaterThan(0);
  expect(report.posts.duplicates).toBe(0);
  // Nothing left after close(): server-side connections, handles and timers, caller-signal listeners.
  expect(report.leaks).toEqual({ serverConnections: 0, resources: {}, signalListeners: 0, total: 0 });
  // The chaos reached the stack: every fault was injected, and the stack answered with successes and typed failures.
  for (const kind of chaosFaultKinds) expect(report.faults[kind], kind).toBeGreaterThan(0);
  expect(report.outcomes['status 200']).toBeGreaterThan(report.requests / 4);
  expect(Object.keys(report.outcomes).some((o) => o.startsWith('ERR_'))).toBe(true);
  expect(report.spans).toBeGreaterThan(0);
};

describe('chaos soak, short (npm run soak is the long one)', () => {
  it.each([
    ['undici', false],
    ['node-fetch', true],
  ] as const)('%s (https: %s): 1,500 requests at concurrency 64 through every layer settle once, typed; no POST twice; nothing left after close', async (transport, https) => {
    const report = await runSoak({ requests: 1_500, concurrency: 64, transport, https, seed: 11, rates, maxDurationMs: 30_000 });
    expect(report.layers).toEqual(expect.arrayContaining(['requestId', 'tracing', 'metrics', 'hooks', 'timeout-total', 'cookies', 'cache', 'rateLimit', 'retry', 'hedge', 'circuitBreaker', 'timeout-attempt']));
    if (https) expect(report.layers).toContain('tls');
    expectInvariants(report);
  }, 60_000);
});
