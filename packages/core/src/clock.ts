import { abortReason, neverAbortSignal, watchSignal } from './signals.js';

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


// Node's timers take at most 2^31 - 1 ms; a longer one fires after 1 ms. Longer waits are chained.
const maxTimerMs = 2 ** 31 - 1;

/** A Node timer for any duration: waits longer than Node's limit run as a chain of timers. */
function longTimeout(ms: number, callback: () => void, unref: boolean): () => void {
  let timer: NodeJS.Timeout;
  const start = (left: number): void => {
    timer = left > maxTimerMs ? setTimeout(() => start(left - maxTimerMs), maxTimerMs) : setTimeout(callback, Math.max(0, left));
    if (unref) timer.unref();
  };
  start(ms);
  return () => clearTimeout(timer);
}

/** The wall clock: `performance` time and Node's timers (chained past Node's 24.8-day limit). */
export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep(ms, signal) {
    if (signal === undefined || signal === neverAbortSignal) {
      return new Promise<void>((resolve) => longTimeout(ms, resolve, false));
    }
    if (signal.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const stopWatching = watchSignal(signal, () => {
        cancel();
        reject(abortReason(signal));
      });
      const cancel = longTimeout(
        ms,
        () => {
          stopWatching();
          resolve();
        },
        false,
      );
    });
  },
  setTimer(ms, callback) {
    return longTimeout(ms, callback, true);
  },
};
