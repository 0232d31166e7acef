import type { BaseContext } from '@shallot/core';
import { z } from 'zod';
import type { CircuitBreakerStore } from './store.js';
import type { CircuitStateChange } from './state-change.js';

/** What a call through the breaker ended with: a response, or an error. */
export type CircuitOutcome = { readonly response: Response; readonly error?: undefined } | { readonly error: unknown; readonly response?: undefined };

/** Picks the breaker a request belongs to. */
export type CircuitKeyFunction = (ctx: BaseContext) => string;

/** Decides whether an outcome counts against the circuit. */
export type IsFailure = (ctx: BaseContext, outcome: CircuitOutcome) => boolean;

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `expected ${what}` });
const positiveMs = z.number().positive().finite();

/**
 * Options of `circuitBreaker()`.
 *
 * @example
 * circuitBreaker({ failureThreshold: 3, recoveryTimeoutMs: 30_000 })
 * circuitBreaker({ policy: 'sampling', failureRateThreshold: 0.5, samplingDurationMs: 10_000, minimumRps: 5 })
 */
export const circuitBreakerOptionsSchema = z
  .strictObject({
    /**
     * Which breaker a request belongs to: `'host'` (one per `host:port`), `'global'` (one for
     * everything) or a function of the context.
     * @default 'host'
     */
    key: z.union([z.literal('host'), z.literal('global'), fn<CircuitKeyFunction>("'host', 'global' or a function (ctx) => string")]).default('host'),
    /**
     * How failures open the circuit: `'consecutive'` after `failureThreshold` failures in a row;
     * `'sampling'` when the share of failures over `samplingDurationMs` passes `failureRateThreshold`.
     * @default 'consecutive'
     */
    policy: z.enum(['consecutive', 'sampling']).default('consecutive'),
    /** Consecutive failures that open the circuit (`policy: 'consecutive'`). @default 5 */
    failureThreshold: z.number().int().min(1).default(5),
    /** Share of failed calls, between 0 and 1 exclusive, that opens the circuit (`policy: 'sampling'`). @default 0.5 */
    failureRateThreshold: z.number().gt(0).lt(1).optional(),
    /** The window over which failures are sampled (`policy: 'sampling'`). @default 10_000 */
    samplingDurationMs: positiveMs.optional(),
    /**
     * Calls per second needed in the window before the rate can open the circuit, so a trickle
     * of traffic does not trip it (`policy: 'sampling'`). @default enough for 5 failures per second at the threshold
     */
    minimumRps: z.number().positive().finite().optional(),
    /** How long an opened circuit stays open before it lets probes through. @default 60_000 */
    recoveryTimeoutMs: positiveMs.default(60_000),
    /**
     * Grows the open period each time a probe fails and the circuit re-opens:
     * `recoveryTimeoutMs * factor ** reopens`, capped at `maxMs`. Unset: every open lasts `recoveryTimeoutMs`.
     */
    recoveryBackoff: z
      .strictObject({
        /** Multiplier per re-open. @default 2 */
        factor: z.number().min(1).finite().default(2),
        /** The longest open period. @default 10 * recoveryTimeoutMs */
        maxMs: positiveMs.optional(),
      })
      .optional(),
    /** Probes let through at once while half-open; other calls fail fast. @default 1 */
    halfOpenMaxProbes: z.number().int().min(1).default(1),
    /** Probe successes that close a half-open circuit. @default 1 */
    successThreshold: z.number().int().min(1).default(1),
    /**
     * How long a half-open probe holds its slot. A probe whose outcome has not come by then (it
     * hangs, or the process running it died: with a shared store, another process's probe) is
     * written off, and the next call probes in its place. Set it to the longest a request may
     * take (its timeout). @default 60_000
     */
    probeLeaseMs: positiveMs.default(60_000),
    /**
     * Whether an outcome counts as a failure. By default network errors, timeouts and 5xx
     * responses do; 4xx responses, successes and the caller's own aborts do not.
     */
    isFailure: fn<IsFailure>('a function (ctx, outcome) => boolean').optional(),
    /** Where circuit state lives, to share it between processes. @default memoryCircuitBreakerStore({ maxKeys }) */
    store: z
      .custom<CircuitBreakerStore>(
        (v) => typeof v === 'object' && v !== null && typeof (v as CircuitBreakerStore).update === 'function' && typeof (v as CircuitBreakerStore).peek === 'function',
        { message: 'expected a CircuitBreakerStore (update, peek, entries)' },
      )
      .optional(),
    /** Called on every state change (also see `breaker.onStateChange`). */
    onStateChange: fn<(change: CircuitStateChange) => void>('a function (change) => void').optional(),
    /** Most keys the default memory store keeps (least recently used go first). @default 10_000 */
    maxKeys: z.number().int().min(1).default(10_000),
  })
  .superRefine((o, issues) => {
    if (o.policy === 'sampling') return;
    for (const name of ['failureRateThreshold', 'samplingDurationMs', 'minimumRps'] as const) {
      if (o[name] !== undefined) {
        issues.addIssue({ code: 'custom', path: [name], message: `only applies to policy: 'sampling' (policy is 'consecutive')` });
      }
    }
  });

/** What users pass to `circuitBreaker()`. */
export type CircuitBreakerOptions = z.input<typeof circuitBreakerOptionsSchema>;
/** {@link CircuitBreakerOptions} as validated, defaults filled in. */
export type ResolvedCircuitBreakerOptions = z.output<typeof circuitBreakerOptionsSchema>;

/** Answers a request the inner layers failed. */
export type FallbackHandler = (ctx: BaseContext, error: unknown) => Response | Promise<Response>;

/**
 * Options of `fallback()`.
 *
 * @example
 * fallback({ handler: () => Response.json({ items: [] }), when: isCircuitBreakerOpenError })
 */
export const fallbackOptionsSchema = z.strictObject({
  /** Makes the answer: a canned Response, or one fetched from a secondary service. */
  handler: fn<FallbackHandler>('a function (ctx, error) => Response'),
  /**
   * Which errors the handler answers. By default every error except the caller's own abort and
   * usage errors (`ERR_INVALID_OPTIONS`, `ERR_MIDDLEWARE_PROTOCOL`, `ERR_CLIENT_CLOSED`, `ERR_BODY_NOT_REPLAYABLE`).
   */
  when: fn<(error: unknown, ctx: BaseContext) => boolean>('a function (error, ctx) => boolean').optional(),
  /**
   * Response statuses the handler also answers (the response is discarded and the handler gets
   * an `HttpError` carrying it). @default []
   */
  statuses: z.array(z.number().int().min(100).max(599)).default([]),
});

/** What users pass to `fallback()`. */
export type FallbackOptions = z.input<typeof fallbackOptionsSchema>;
/** {@link FallbackOptions} as validated. */
export type ResolvedFallbackOptions = z.output<typeof fallbackOptionsSchema>;
