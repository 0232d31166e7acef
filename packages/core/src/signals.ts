/** An abort signal that never aborts: the context's signal when the caller gave none and no deadline is set. */
export const neverAbortSignal: AbortSignal = new AbortController().signal;

/** The reason to reject with when `signal` has aborted. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

interface Watch {
  readonly callbacks: Set<() => void>;
  readonly onAbort: () => void;
}

const watches = new WeakMap<AbortSignal, Watch>();

/**
 * Calls `callback` once `signal` aborts, with ONE listener on the signal however many requests
 * watch it: a caller's long-lived signal shared by 500 requests gets one `abort` listener (no
 * `MaxListenersExceededWarning`), and none once every watcher has stopped watching. Returns the
 * function that stops watching.
 */
export function watchSignal(signal: AbortSignal, callback: () => void): () => void {
  let watch = watches.get(signal);
  if (watch === undefined) {
    const callbacks = new Set<() => void>();
    const onAbort = (): void => {
      watches.delete(signal);
      for (const call of callbacks) call();
      callbacks.clear();
    };
    watch = { callbacks, onAbort };
    watches.set(signal, watch);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  const { callbacks, onAbort } = watch;
  callbacks.add(callback);
  return () => {
    if (!callbacks.delete(callback) || callbacks.size > 0) return;
    signal.removeEventListener('abort', onAbort);
    if (watches.get(signal)?.callbacks === callbacks) watches.delete(signal);
  };
}

/** How many callbacks watch `signal` through {@link watchSignal} (for leak tests). */
export function signalWatchers(signal: AbortSignal): number {
  return watches.get(signal)?.callbacks.size ?? 0;
}

/**
 * Waits for `promise`, or rejects with the signal's reason as soon as `signal` aborts, whichever
 * comes first; the watch is removed once the promise settles. For a layer waiting on something
 * that does not take a signal itself (a queue, a shared in-flight request).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal === neverAbortSignal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const stop = watchSignal(signal, () => reject(abortReason(signal)));
    promise.then(
      (value) => {
        stop();
        resolve(value);
      },
      (error: unknown) => {
        stop();
        reject(error);
      },
    );
  });
}
