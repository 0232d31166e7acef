import { abortReason, type Clock, neverAbortSignal } from '@shallot/core';

/** A clock whose time moves only when the test says so. */
export interface VirtualClock extends Clock {
  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order, and letting the
   * promise callbacks each timer unblocks run before the next one fires.
   */
  advance(ms: number): Promise<void>;
  /** Fires timers until none is left (bounded: at most `limit` timers). */
  runAll(limit?: number): Promise<void>;
  /** Timers waiting to fire. */
  readonly pendingTimers: number;
}

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/** Lets promise callbacks and immediates queued so far run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A deterministic clock for tests: `now()` starts at `startMs` (the real time by default) and
 * moves only through `advance()` or `runAll()`.
 *
 * @example
 * const clock = virtualClock();
 * const client = compose().use(retry()).build({ clock });
 * const pending = client.get(url);
 * await clock.advance(1_000);
 */
export function virtualClock(options: { startMs?: number } = {}): VirtualClock {
  let now = options.startMs ?? Date.now();
  let nextId = 0;
  const timers: Timer[] = [];

  const add = (ms: number, callback: () => void): number => {
    const timer = { id: ++nextId, at: now + Math.max(0, ms), callback };
    // Keep timers ordered by due time, then by creation.
    let i = timers.length;
    while (i > 0 && (timers[i - 1] as Timer).at > timer.at) i--;
    timers.splice(i, 0, timer);
    return timer.id;
  };
  const remove = (id: number): void => {
    const i = timers.findIndex((t) => t.id === id);
    if (i !== -1) timers.splice(i, 1);
  };

  const clock: VirtualClock = {
    now: () => now,
    sleep(ms, givenSignal) {
      const signal = givenSignal === neverAbortSignal ? undefined : givenSignal;
      if (signal?.aborted) return Promise.reject(abortReason(signal));
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          remove(id);
          reject(abortReason(signal as AbortSignal));
        };
        const id = add(ms, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    setTimer(ms, callback) {
      const id = add(ms, callback);
      return () => remove(id);
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        const timer = timers[0];
        if (timer === undefined || timer.at > target) break;
        timers.shift();
        now = Math.max(now, timer.at);
        timer.callback();
        await settle();
      }
      now = target;
      await settle();
    },
    async runAll(limit = 10_000) {
      await settle();
      for (let fired = 0; fired < limit; fired++) {
        const timer = timers.shift();
        if (timer === undefined) return;
        now = Math.max(now, timer.at);
        timer.callback();
        await settle();
      }
    },
    get pendingTimers() {
      return timers.length;
    },
  };
  return clock;
}
