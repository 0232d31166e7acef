import { defineMiddleware, type Middleware, NetworkError, parseOptions, TimeoutError } from '@shallot/core';
import { z } from 'zod';
import { seededRandom } from './seeded-random.js';

const rate = z.number().min(0).max(1);

/** Options of {@link chaos}. */
export const chaosOptionsSchema = z.strictObject({
  /** Share of requests that fail instead of reaching the layers inside. @default 0 */
  failureRate: rate.default(0),
  /**
   * How a failing request fails: `network` (a `NetworkError`), `timeout` (a `TimeoutError` of
   * kind `attempt`) or an HTTP status answered without a network call. @default 'network'
   */
  failWith: z.union([z.enum(['network', 'timeout']), z.number().int().min(200).max(599)]).default('network'),
  /** Added delay before each request, fixed or `[min, max]`, slept on `ctx.clock`. @default 0 */
  latencyMs: z.union([z.number().min(0), z.tuple([z.number().min(0), z.number().min(0)])]).default(0),
  /** Seed of the pseudo-random sequence: the same seed injects the same faults in the same order. */
  seed: z.number().int().optional(),
});

/** What users pass to {@link chaos}. */
export type ChaosOptions = z.input<typeof chaosOptionsSchema>;

/** Counts of what {@link chaos} did. */
export interface ChaosStats {
  requests: number;
  failures: number;
  delayedMs: number;
}

/** The middleware `chaos()` returns, with its counts. */
export type ChaosMiddleware = Middleware & { stats(): ChaosStats };

/**
 * Injects faults for resilience tests: added latency, and a share of requests that fail with a
 * network error, a timeout, or a status, before they reach the layers inside. Place it inside
 * the layers under test (retry, breaker) so they see the faults. Seeded, so a failing test can
 * be replayed.
 *
 * @example
 * compose().use(retry()).use(chaos({ failureRate: 0.3, failWith: 503, seed: 42 })).build()
 */
export function chaos(options: ChaosOptions = {}): ChaosMiddleware {
  const resolved = parseOptions(chaosOptionsSchema, options, 'chaos');
  const next01 = seededRandom(resolved.seed ?? Math.floor(Math.random() * 2 ** 31));
  const stats: ChaosStats = { requests: 0, failures: 0, delayedMs: 0 };
  const latency = resolved.latencyMs;

  const middleware = defineMiddleware(
    async function chaos(ctx, next) {
      stats.requests++;
      const delay = typeof latency === 'number' ? latency : latency[0] + next01() * Math.max(0, latency[1] - latency[0]);
      if (delay > 0) {
        stats.delayedMs += delay;
        await ctx.clock.sleep(delay, ctx.signal);
      }
      if (resolved.failureRate > 0 && next01() < resolved.failureRate) {
        stats.failures++;
        const request = ctx.request;
        if (resolved.failWith === 'network') throw new NetworkError('chaos: injected network failure', { request });
        if (resolved.failWith === 'timeout') throw new TimeoutError('attempt', undefined, { request, cause: new Error('chaos: injected timeout') });
        return new Response(null, { status: resolved.failWith, headers: { 'x-chaos': 'injected' } });
      }
      return next();
    },
    { name: 'chaos', options: resolved },
  );
  return Object.assign(middleware, { stats: () => ({ ...stats }) });
}
