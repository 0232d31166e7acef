import { abortReason, defineMiddleware, type Middleware, neverAbortSignal, parseOptions, untilAborted } from '@shallot/core';
import { BulkheadPolicy } from 'cockatiel';
import { RateLimitExceededError } from './errors.js';
import { limitKey } from './limit-key.js';
import { type ConcurrencyLimitOptions, concurrencyLimitOptionsSchema } from './options.js';

/**
 * A bulkhead per key (cockatiel's `BulkheadPolicy`): at most `max` requests in flight, `queue`
 * more waiting first come, first served; beyond that a request throws `RateLimitExceededError`
 * with `reason: 'concurrency'` at once. A waiting request leaves as soon as its signal aborts
 * (the caller, or the deadline). Bulkheads exist only while their key has requests in flight
 * or waiting, so memory is bounded by the requests, not by the keys ever seen.
 *
 * @example
 * compose().use(concurrencyLimit({ max: 6, queue: 100, key: 'host' }))
 */
export function concurrencyLimit(options: ConcurrencyLimitOptions): Middleware {
  const resolved = parseOptions(concurrencyLimitOptionsSchema, options, 'concurrencyLimit');
  const { max } = resolved;
  const queue = resolved.queue ?? Infinity;
  const keyOf = limitKey(resolved.key, 'concurrencyLimit');
  const bulkheads = new Map<string, BulkheadPolicy>();

  const release = (key: string, bulkhead: BulkheadPolicy): void => {
    if (bulkhead.executionSlots === max && bulkhead.queueSlots === queue && bulkheads.get(key) === bulkhead) bulkheads.delete(key);
  };

  return defineMiddleware(
    async function concurrencyLimit(ctx, next) {
      const key = keyOf(ctx);
      if (key === undefined) return next();
      if (ctx.aborted) throw abortReason(ctx.signal);
      let bulkhead = bulkheads.get(key);
      if (bulkhead === undefined) {
        bulkhead = new BulkheadPolicy(max, queue);
        bulkheads.set(key, bulkhead);
      }
      if (bulkhead.executionSlots === 0 && bulkhead.queueSlots === 0) {
        throw new RateLimitExceededError(key, 'concurrency', 0, { request: ctx.request });
      }
      // A free slot runs at once: no signal is needed (and none is made).
      if (bulkhead.executionSlots > 0) return bulkhead.execute(() => next()).finally(() => release(key, bulkhead));
      const signal = ctx.signal;
      const running = bulkhead.execute(() => next(), signal);
      const settled = running.finally(() => release(key, bulkhead));
      if (signal === neverAbortSignal) return settled;
      // cockatiel leaves an aborted caller in its queue until a slot frees (then cancels it);
      // the caller should not wait that long.
      return untilAborted(settled, signal);
    },
    { name: 'concurrencyLimit', options: resolved },
  );
}
