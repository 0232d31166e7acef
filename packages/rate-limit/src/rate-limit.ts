import {
  addTransportHook,
  type BaseContext,
  defineMiddleware,
  isTimeoutError,
  neverAbortSignal,
  type Middleware,
  parseOptions,
  type TransportHook,
} from '@shallot/core';
import { limits } from './adaptive.js';
import { RateLimitExceededError } from './errors.js';
import { limitKey } from './limit-key.js';
import { type RateLimitOptions, rateLimitOptionsSchema } from './options.js';
import { memoryRateLimitStore, type RateLimitDecision, type RateLimitStore } from './store.js';

/** What `rateLimit()` puts on the context as `ctx.rateLimit`. */
export interface RateLimitContext {
  /** The bucket the request drew from; `undefined` when its key function let it through unlimited. */
  readonly key: string | undefined;
  /** How long it waited for its token (0 when one was free). */
  readonly waitedMs: number;
}

/** What a rate limiter lets you look at. */
export interface RateLimitControls {
  /** The limit per `intervalMs` now in force for `key` (moves only with `adaptive`). @default key 'global' */
  currentLimit(key?: string): number;
}

/** The middleware `rateLimit()` returns: a layer that provides `ctx.rateLimit`, with {@link RateLimitControls} attached. */
export interface RateLimitMiddleware extends Middleware<{}, { rateLimit: RateLimitContext }>, RateLimitControls {}

/** Runs a store call whose failure must not fail the request (the store degrades to no limit). */
function quietly(ctx: BaseContext, what: string, call: () => void | Promise<void>): void {
  const report = (error: unknown): void => ctx.log.warn({ err: error }, `rateLimit: the store failed to ${what}`);
  try {
    const pending = call();
    if (pending !== undefined) pending.catch(report);
  } catch (error) {
    report(error);
  }
}

/**
 * A GCRA token bucket per key: `limit` requests per `intervalMs`, at most `burst` at once, exact
 * under any concurrency. In `wait` mode a request without a token reserves the next free one and
 * sleeps until then (first come, first served), unless that is later than `maxWaitMs` or the
 * deadline, or `maxQueue` requests already wait: then it throws `RateLimitExceededError` at once,
 * as every request without a token does in `reject` mode.
 *
 * A token pays for a request that reaches the transport: one refused or answered by an inner
 * layer (an open circuit, a cache hit) gets its token back. With `adaptive`, the limit follows
 * the upstream (AIMD on 429 and latency; `RateLimit-*` headers hold the bucket until reset).
 *
 * Place it outside `retry()` to count logical requests, inside to count attempts.
 *
 * @example
 * compose()
 *   .use(rateLimit({ limit: 100, intervalMs: 60_000 }))
 *   .use(retry())
 *   .use(circuitBreaker())
 */
export function rateLimit(options: RateLimitOptions): RateLimitMiddleware {
  const resolved = parseOptions(rateLimitOptionsSchema, options, 'rateLimit');
  const store: RateLimitStore = resolved.store ?? memoryRateLimitStore({ maxKeys: resolved.maxKeys });
  const keyOf = limitKey(resolved.key, 'rateLimit');
  const shape = limits(resolved);
  const { mode, maxQueue } = resolved;
  const maxWaitMs = resolved.maxWaitMs ?? Infinity;
  /** Requests sleeping for a reserved token, per key (entries removed at zero). */
  const waiting = new Map<string, number>();

  const handler = defineMiddleware<{}, { rateLimit: RateLimitContext }>(
    async function rateLimit(ctx, next) {
      const key = keyOf(ctx);
      if (key === undefined) {
        ctx.rateLimit = { key: undefined, waitedMs: 0 };
        return next();
      }
      const startedAt = ctx.clock.now();
      const params = shape.params(key);
      const queueFull = mode === 'wait' && maxQueue !== undefined && (waiting.get(key) ?? 0) >= maxQueue;
      const maxWait = mode === 'reject' || queueFull ? 0 : Math.min(maxWaitMs, ctx.remainingMs());
      let decision: RateLimitDecision;
      try {
        decision = await store.take(key, { now: startedAt, ...params, maxWaitMs: maxWait });
      } catch (error) {
        ctx.log.warn({ err: error }, 'rateLimit: the store failed; letting the request through unlimited');
        ctx.rateLimit = { key, waitedMs: 0 };
        return next();
      }
      if (!decision.allowed) {
        throw new RateLimitExceededError(key, queueFull ? 'queue' : 'rate', decision.retryAfterMs, { request: ctx.request });
      }
      if (decision.waitMs > 0) {
        waiting.set(key, (waiting.get(key) ?? 0) + 1);
        try {
          // A signal that can never abort gets no listener (thousands of waiters would pile them onto one shared signal).
          await ctx.clock.sleep(decision.waitMs, ctx.signal === neverAbortSignal ? undefined : ctx.signal);
        } catch (error) {
          quietly(ctx, 'refund an abandoned reservation', () => store.refund(key, { now: ctx.clock.now(), ...params }));
          throw error;
        } finally {
          const left = (waiting.get(key) ?? 1) - 1;
          if (left === 0) waiting.delete(key);
          else waiting.set(key, left);
        }
      }
      const sentAt = ctx.clock.now();
      ctx.rateLimit = { key, waitedMs: decision.waitMs > 0 ? sentAt - startedAt : 0 };

      let sent = false;
      const watch: TransportHook = (_attempt, send) => {
        sent = true;
        return send();
      };
      const watching = addTransportHook(ctx, watch);
      try {
        const response = await next();
        const adjustment = shape.observeResponse(key, response, sentAt, ctx.clock.now());
        if (adjustment.decreasedTo !== undefined) {
          ctx.log.info({ key, limit: adjustment.decreasedTo, status: response.status }, `rateLimit: limit for '${key}' cut to ${adjustment.decreasedTo}`);
        }
        const until = adjustment.pauseUntil;
        if (until !== undefined) {
          quietly(ctx, 'hold the bucket', () => store.pauseUntil(key, { now: ctx.clock.now(), ...shape.params(key), untilMs: until }));
        }
        return response;
      } catch (error) {
        if (isTimeoutError(error)) shape.observeTimeout(key, sentAt, ctx.clock.now());
        throw error;
      } finally {
        watching.dispose();
        if (!sent) quietly(ctx, 'refund a request that was never sent', () => store.refund(key, { now: ctx.clock.now(), ...params }));
      }
    },
    { name: 'rateLimit', options: { ...resolved, store: resolved.store === undefined ? 'memory' : 'custom' } },
  );
  return Object.assign(handler, { currentLimit: (key = 'global') => shape.current(key) });
}
