/** An abort signal that never aborts: the context's signal when the caller gave none and no deadline is set. */
export const neverAbortSignal: AbortSignal = new AbortController().signal;

/** The reason to reject with when `signal` has aborted. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Waits for `promise`, or rejects with the signal's reason as soon as `signal` aborts, whichever
 * comes first; the listener is removed once the promise settles. For a layer waiting on
 * something that does not take a signal itself (a queue, a shared in-flight request).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal === neverAbortSignal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
