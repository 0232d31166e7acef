import type { BaseContext } from '@shallot/core';
import { z } from 'zod';
import type { RetryBudget } from './budget.js';
import type { GiveUpEvent, RetryEvent } from './events.js';

/** The methods retried by default: those RFC 9110 defines as idempotent. */
export const idempotentMethods: readonly string[] = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'];

/** The statuses retried by default. */
export const retryableStatuses: readonly number[] = [408, 429, 500, 502, 503, 504];

/**
 * What a retry decision is made on: the response or the error of the attempt that just
 * finished, and whether the default rules would retry it.
 */
export type RetryOutcome =
  | {
      /** The attempt that produced this outcome (1-based). */
      readonly attempt: number;
      readonly response: Response;
      readonly error?: undefined;
      /** What the default rules (status, error code, method) decided. */
      readonly retryable: boolean;
    }
  | {
      readonly attempt: number;
      readonly response?: undefined;
      readonly error: unknown;
      readonly retryable: boolean;
    };

/** Decides whether an outcome is retried, instead of the default rules. */
export type ShouldRetry = (ctx: BaseContext, outcome: RetryOutcome) => boolean | Promise<boolean>;

/** A custom backoff: the delay in ms after the `attempt`-th attempt (1-based) failed. */
export type DelayFunction = (attempt: number, ctx: BaseContext) => number;

const fn = <T>(what: string) => z.custom<T>((value) => typeof value === 'function', { message: `expected ${what}` });
const delay = z.number().min(0).max(2_147_483_647);

/** Exponential backoff through cockatiel's `ExponentialBackoff` and its jitter generators. */
export const exponentialBackoffSchema = z.strictObject({
  kind: z.literal('exponential').default('exponential'),
  /** The first delay (the seed's `backoff_factor`), before jitter. @default 100 */
  initialMs: delay.positive().default(100),
  /** No delay is longer than this. @default 10_000 */
  maxMs: delay.positive().default(10_000),
  /** Growth per attempt. @default 2 */
  multiplier: z.number().min(1).max(16).default(2),
  /**
   * `decorrelated` (Polly's decorrelated jitter, spreads clients best), `full` (uniform in
   * `[0, delay)`, as AWS recommends) or `none` (`initialMs * multiplier ** (attempt - 1)`).
   * @default 'decorrelated'
   */
  jitter: z.enum(['decorrelated', 'full', 'none']).default('decorrelated'),
});

/** The same delay between every attempt (cockatiel's `ConstantBackoff`). */
export const constantBackoffSchema = z.strictObject({
  kind: z.literal('constant'),
  /** The delay between attempts. */
  delayMs: delay,
});

/** A delay computed by your function (through cockatiel's `DelegateBackoff`). */
export const customBackoffSchema = z.strictObject({
  kind: z.literal('custom'),
  /** Returns the delay after the `attempt`-th attempt failed; clamped to `[0, 2^31 - 1]`. */
  delay: fn<DelayFunction>('a function (attempt, ctx) => ms'),
});

/** One of the three backoff kinds. */
export const backoffSchema = z.discriminatedUnion('kind', [exponentialBackoffSchema, constantBackoffSchema, customBackoffSchema]);

/** Backoff options as validated. */
export type ResolvedBackoffOptions = z.output<typeof backoffSchema>;

/** Options of `retry()`. */
export const retryOptionsSchema = z.strictObject({
  /** Attempts in all, the first included (`maxAttempts: 4` is three retries). @default 4 */
  maxAttempts: z.number().int().min(1).max(100).default(4),
  /** How long to wait between attempts. @default { kind: 'exponential', initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 'decorrelated' } */
  backoff: backoffSchema.default({ kind: 'exponential', initialMs: 100, maxMs: 10_000, multiplier: 2, jitter: 'decorrelated' }),
  /** Response statuses that are retried. @default [408, 429, 500, 502, 503, 504] */
  retryOnStatus: z.array(z.number().int().min(100).max(599)).default([...retryableStatuses]),
  /**
   * Methods that are retried. POST and PATCH are retried only when listed here, or when the
   * request carries an `Idempotency-Key` header. @default ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']
   */
  methods: z
    .array(z.string().min(1))
    .transform((methods) => methods.map((m) => m.toUpperCase()))
    .default([...idempotentMethods]),
  /** Wait as a 429 or 503 response's `Retry-After` (seconds or an HTTP date) says. @default true */
  respectRetryAfter: z.boolean().default(true),
  /** A `Retry-After` longer than this gives up at once and returns that response. @default 60_000 */
  maxRetryAfterMs: delay.default(60_000),
  /** Add a fresh `Idempotency-Key` to POST and PATCH requests that have none, making them retryable. @default false */
  idempotencyKey: z.boolean().default(false),
  /** A {@link RetryBudget} (from `retryBudget()`) shared by the clients that should stay within it. */
  budget: z
    .custom<RetryBudget>(
      (value) => typeof value === 'object' && value !== null && typeof (value as RetryBudget).tryWithdraw === 'function',
      { message: 'expected a retry budget (from retryBudget())' },
    )
    .optional(),
  /** Overrides the default decision (status, error code, method) for each outcome. */
  shouldRetry: fn<ShouldRetry>('a function (ctx, outcome) => boolean').optional(),
  /** Called before each retry's wait. */
  onRetry: fn<(event: RetryEvent) => void>('a function (event) => void').optional(),
  /** Called when retrying stops on an outcome that was retryable (attempts, budget, deadline...). */
  onGiveUp: fn<(event: GiveUpEvent) => void>('a function (event) => void').optional(),
});

/** What users pass to `retry()`. */
export type RetryOptions = z.input<typeof retryOptionsSchema>;
/** {@link RetryOptions} with defaults applied. */
export type ResolvedRetryOptions = z.output<typeof retryOptionsSchema>;

/** Options of `retryBudget()`. */
export const retryBudgetOptionsSchema = z.strictObject({
  /** Retries allowed as a fraction of the requests seen in the last `ttlMs`. @default 0.2 */
  ratio: z.number().min(0).max(10).default(0.2),
  /** Retries allowed on top of `ratio`, refilled at this rate per second (a floor for low traffic). @default 10 */
  minPerSecond: z.number().min(0).default(10),
  /** How long a request counts towards `ratio`. @default 10_000 */
  ttlMs: z.number().int().min(100).max(3_600_000).default(10_000),
  /** One budget per `host` of the request URL, one `global` budget, or per the string your function returns. @default 'host' */
  key: z.union([z.enum(['host', 'global']), fn<(ctx: BaseContext) => string>('a function (ctx) => string')]).default('host'),
  /** Most keys kept at once; the oldest is forgotten past this. @default 1_000 */
  maxKeys: z.number().int().min(1).default(1_000),
});

/** What users pass to `retryBudget()`. */
export type RetryBudgetOptions = z.input<typeof retryBudgetOptionsSchema>;
/** {@link RetryBudgetOptions} with defaults applied. */
export type ResolvedRetryBudgetOptions = z.output<typeof retryBudgetOptionsSchema>;
