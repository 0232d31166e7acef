import { type BaseContext, closeScope, openScope, scopeOf } from './context.js';
import { expireAfter } from './deadline-queue.js';
import { TimeoutError, type TimeoutKind } from './errors.js';

/**
 * Runs `run` under a time bound: inside it `ctx.deadline` is the bound (kept when an outer
 * deadline is sooner) and the request aborts with a {@link TimeoutError} of `kind` when the
 * bound passes; the returned promise rejects with that error at the bound even if an inner layer
 * ignores the abort. The bound covers the call until the response (headers) is returned; body
 * reads are bounded by the transport's read timeout.
 *
 * It costs no timer, signal or listener of its own on the success path: the deadline is a number
 * and an entry in a timer shared by every deadline of the same duration (see `expireAfter`);
 * the transport aborts the request through the context's abort scope, and an `AbortSignal` is
 * made only if some layer reads `ctx.signal`.
 */
export function withTimeout(ctx: BaseContext, ms: number, kind: TimeoutKind, run: () => Promise<Response>): Promise<Response> {
  const clock = ctx.clock;
  const outer = scopeOf(ctx);
  const deadline = clock.now() + ms;
  if (outer.aborted || (outer.deadline !== undefined && outer.deadline <= deadline)) return run();

  const scope = openScope(ctx, deadline);
  return new Promise<Response>((resolve, reject) => {
    const expiry = expireAfter(clock, ms, () => {
      const error = new TimeoutError(kind, ms, { request: ctx.request });
      scope.abort(error);
      closeScope(ctx, scope);
      reject(error);
    });
    let pending: Promise<Response>;
    try {
      pending = run();
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (response) => {
        expiry.cancel();
        closeScope(ctx, scope);
        resolve(response);
      },
      (error: unknown) => {
        expiry.cancel();
        closeScope(ctx, scope);
        reject(error);
      },
    );
  });
}
