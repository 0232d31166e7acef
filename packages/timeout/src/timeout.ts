import { defineMiddleware, type Middleware, type Next, parseOptions, type BaseContext, withTimeout } from '@shallot/core';
import { type TimeoutOptions, timeoutOptionsSchema } from './options.js';

/**
 * Bounds time. Placed outside `retry()` it bounds the whole call (`totalMs`, retries and backoff
 * included); inside, one attempt (`attemptMs`). It sets `ctx.deadline`, which every inner layer
 * honours (retry will not sleep past it), and aborts `ctx.signal` when the bound passes, with a
 * `TimeoutError` whose `kind` says which bound it was. `connectMs` and `readMs` are handed to the
 * transport through `ctx.timeouts`.
 *
 * @example
 * compose()
 *   .use(timeout({ totalMs: 10_000 }))
 *   .use(retry())
 *   .use(timeout({ attemptMs: 2_000, connectMs: 500 }))
 */
export function timeout(options: TimeoutOptions): Middleware {
  const resolved = parseOptions(timeoutOptionsSchema, options, 'timeout');
  const { totalMs, attemptMs, connectMs, readMs } = resolved;
  const setsTransport = connectMs !== undefined || readMs !== undefined;

  const bounded = (ctx: BaseContext, next: Next): Promise<Response> => {
    if (totalMs === undefined) return attemptMs === undefined ? next() : withTimeout(ctx, attemptMs, 'attempt', () => next());
    if (attemptMs === undefined) return withTimeout(ctx, totalMs, 'total', () => next());
    return withTimeout(ctx, totalMs, 'total', () => withTimeout(ctx, attemptMs, 'attempt', () => next()));
  };

  return defineMiddleware(
    async function timeout(ctx, next) {
      if (!setsTransport) return bounded(ctx, next);
      const outer = ctx.timeouts;
      ctx.timeouts = {
        connectMs: connectMs ?? outer.connectMs,
        readMs: readMs ?? outer.readMs,
      };
      try {
        return await bounded(ctx, next);
      } finally {
        ctx.timeouts = outer;
      }
    },
    { name: 'timeout', options: resolved },
  );
}
