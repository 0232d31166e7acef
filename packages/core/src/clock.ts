import { abortReason, neverAbortSignal } from './signals.js';

/**
 * Time as shallot's layers see it. Every layer reads time and sleeps through `ctx.clock`, so a
 * test can swap in a virtual clock (`virtualClock()` from `@shallot/testing`).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. Rejects with `signal.reason` as soon as `signal` aborts,
   * and at once when it is already aborted.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `callback` once after `ms` milliseconds and returns a function that cancels it. Real
   * timers are unref'd: a pending timer never keeps the process alive.
   */
  setTimer(ms: number, callback: () => void): () => void;
}


/** The wall clock: `performance` time and Node's timers. */
export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep(ms, signal) {
    if (signal === undefined || signal === neverAbortSignal) {
      return new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
    }
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal as AbortSignal));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  setTimer(ms, callback) {
    const timer = setTimeout(callback, Math.max(0, ms));
    timer.unref();
    return () => clearTimeout(timer);
  },
};
