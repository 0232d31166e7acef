import type { BaseContext } from './context.js';
import { TimeoutError, type TimeoutKind } from './errors.js';

/**
 * Runs `run` under a time bound: sets `ctx.deadline` (kept when an outer deadline is sooner)
 * and a `ctx.signal` that aborts with a {@link TimeoutError} of `kind` when the bound passes,
 * and rejects with that error at the bound even if an inner layer ignores the signal. Both are
 * restored when `run` settles, so a bound set around one attempt does not leak into the next.
 * The bound covers the call until the response (headers) is returned; body reads are bounded
 * by the transport's read timeout.
 */
export function withTimeout(ctx: BaseContext, ms: number, kind: TimeoutKind, run: () => Promise<Response>): Promise<Response> {
  const clock = ctx.clock;
  const deadline = clock.now() + ms;
  const outerSignal = ctx.signal;
  const outerDeadline = ctx.deadline;
  if (outerSignal.aborted) return run();
  if (outerDeadline !== undefined && outerDeadline <= deadline) return run();

  const timer = new AbortController();
  let cancel: () => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    cancel = clock.setTimer(ms, () => {
      const error = new TimeoutError(kind, ms, { request: ctx.request });
      timer.abort(error);
      reject(error);
    });
  });
  ctx.signal = AbortSignal.any([outerSignal, timer.signal]);
  ctx.deadline = deadline;
  let pending: Promise<Response>;
  try {
    pending = run();
  } catch (error) {
    pending = Promise.reject(error);
  }
  const restore = (): void => {
    cancel();
    ctx.signal = outerSignal;
    ctx.deadline = outerDeadline;
  };
  // The inner call may still settle after the bound has rejected; its outcome is then moot.
  pending.catch(() => {});
  expired.catch(() => {});
  return Promise.race([pending, expired]).then(
    (response) => {
      restore();
      return response;
    },
    (error: unknown) => {
      restore();
      if (timer.signal.aborted && !outerSignal.aborted) throw timer.signal.reason;
      throw error;
    },
  );
}
