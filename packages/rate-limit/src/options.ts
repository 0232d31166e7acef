import type { BaseContext } from '@shallot/core';
import { z } from 'zod';
import type { RateLimitStore } from './store.js';

/** Picks the bucket a request draws from; `undefined` lets the request through unlimited. */
export type LimitKeyFunction = (ctx: BaseContext) => string | undefined;

/**
 * Which bucket a request draws from: `'global'` (one for everything), `'host'` (one per
 * `host:port`), `{ header }` (one per value of a request header, e.g. a user id; requests
 * without the header are not limited) or a function of the context.
 */
export type LimitKey = 'global' | 'host' | { readonly header: string } | LimitKeyFunction;

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `expected ${what}` });
const positiveMs = z.number().positive().finite();

const keySchema = z.union([
  z.literal('global'),
  z.literal('host'),
  z.strictObject({ header: z.string().min(1) }),
  fn<LimitKeyFunction>("'global', 'host', { header } or a function (ctx) => string"),
]);

/** Options of the additive-increase, multiplicative-decrease controller of `rateLimit({ adaptive })`. */
export const adaptiveOptionsSchema = z.strictObject({
  /** The lowest the limit goes. @default the smaller of 1 and `limit` */
  minLimit: z.number().positive().finite().optional(),
  /** The highest the limit grows back to. @default `limit` */
  maxLimit: z.number().positive().finite().optional(),
  /** The limit is multiplied by this on each congestion signal. @default 0.5 */
  decreaseFactor: z.number().gt(0).lt(1).default(0.5),
  /** Added to the limit for each interval's worth of successful responses. @default 1 */
  increaseBy: z.number().positive().finite().default(1),
  /** Statuses that signal congestion. @default [429] */
  statuses: z.array(z.number().int().min(100).max(599)).default([429]),
  /** A response slower than this (or a timeout) signals congestion. Unset: latency is not watched. */
  latencyTargetMs: positiveMs.optional(),
  /**
   * Honour `Retry-After` on congestion statuses and `RateLimit-Remaining: 0` with
   * `RateLimit-Reset` (also `X-RateLimit-*` and the combined `RateLimit` header) by holding the
   * bucket until the server's window resets. @default true
   */
  respectHeaders: z.boolean().default(true),
});

/**
 * Options of `rateLimit()`: `limit` requests per `intervalMs`, at most `burst` at once.
 *
 * @example
 * rateLimit({ limit: 100, intervalMs: 60_000 })
 * rateLimit({ limit: 20, intervalMs: 1_000, burst: 5, key: { header: 'X-User-ID' }, mode: 'reject' })
 */
export const rateLimitOptionsSchema = z
  .strictObject({
    /** Requests allowed per `intervalMs` (the sustained rate). */
    limit: z.number().positive().finite(),
    /** The interval `limit` is counted over. */
    intervalMs: positiveMs,
    /** Requests that may go at once when the bucket is full. @default `limit` (at least 1) */
    burst: z.number().int().min(1).optional(),
    /** Which bucket a request draws from. @default 'global' */
    key: keySchema.default('global'),
    /** `'wait'` queues (first come, first served) until a token is free; `'reject'` throws at once. @default 'wait' */
    mode: z.enum(['wait', 'reject']).default('wait'),
    /** In wait mode, the longest a request may wait; longer waits throw at once. The deadline also bounds it. */
    maxWaitMs: z.number().min(0).optional(),
    /** In wait mode, the most requests waiting per key; more throw at once (`reason: 'queue'`). Unset: unbounded. */
    maxQueue: z.number().int().min(0).optional(),
    /** Adapt the limit to the upstream: halve it on 429 (or slow responses), grow it back additively. */
    adaptive: adaptiveOptionsSchema.optional(),
    /** Where buckets live, to share them between processes. @default memoryRateLimitStore({ maxKeys }) */
    store: z
      .custom<RateLimitStore>(
        (v) => typeof v === 'object' && v !== null && typeof (v as RateLimitStore).take === 'function' && typeof (v as RateLimitStore).refund === 'function',
        { message: 'expected a RateLimitStore (take, refund, pauseUntil)' },
      )
      .optional(),
    /** Most keys kept by the default store and the adaptive controller (least recently used go first). @default 10_000 */
    maxKeys: z.number().int().min(1).default(10_000),
  })
  .superRefine((o, issues) => {
    if (o.mode === 'reject' && (o.maxWaitMs !== undefined || o.maxQueue !== undefined)) {
      issues.addIssue({ code: 'custom', path: [o.maxWaitMs !== undefined ? 'maxWaitMs' : 'maxQueue'], message: "only applies to mode: 'wait'" });
    }
    const a = o.adaptive;
    if (a?.minLimit !== undefined && a.maxLimit !== undefined && a.minLimit > a.maxLimit) {
      issues.addIssue({ code: 'custom', path: ['adaptive', 'minLimit'], message: 'expected minLimit <= maxLimit' });
    }
  });

/** What users pass to `rateLimit()`. */
export type RateLimitOptions = z.input<typeof rateLimitOptionsSchema>;
/** {@link RateLimitOptions} as validated, defaults filled in. */
export type ResolvedRateLimitOptions = z.output<typeof rateLimitOptionsSchema>;

/**
 * Options of `concurrencyLimit()`: at most `max` requests in flight per key, `queue` more waiting.
 *
 * @example
 * concurrencyLimit({ max: 10, queue: 100, key: 'host' })
 */
export const concurrencyLimitOptionsSchema = z.strictObject({
  /** Requests in flight at once, per key. */
  max: z.number().int().min(1),
  /** Requests that may wait (first come, first served) for a free slot, per key; more throw at once. Unset: unbounded. */
  queue: z.number().int().min(0).optional(),
  /** Which bulkhead a request goes through. @default 'global' */
  key: keySchema.default('global'),
});

/** What users pass to `concurrencyLimit()`. */
export type ConcurrencyLimitOptions = z.input<typeof concurrencyLimitOptionsSchema>;
/** {@link ConcurrencyLimitOptions} as validated. */
export type ResolvedConcurrencyLimitOptions = z.output<typeof concurrencyLimitOptionsSchema>;
