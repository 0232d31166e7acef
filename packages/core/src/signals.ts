/** An abort signal that never aborts: the context's signal when the caller gave none and no deadline is set. */
export const neverAbortSignal: AbortSignal = new AbortController().signal;

/**
 * A controller whose signal aborts when `parent` aborts (with the parent's reason) or when
 * `abort()` is called. `release()` detaches it from the parent, so a long-lived parent does not
 * keep every child alive.
 */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
  release(): void;
}

/** Links a new abort controller to `parent` (see {@link LinkedAbort}). */
export function linkAbort(parent: AbortSignal | undefined): LinkedAbort {
  const controller = new AbortController();
  if (parent === undefined || parent === neverAbortSignal) {
    return { signal: controller.signal, abort: (r) => controller.abort(r), release: () => {} };
  }
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, abort: () => {}, release: () => {} };
  }
  const onAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => {
      parent.removeEventListener('abort', onAbort);
      controller.abort(reason);
    },
    release: () => parent.removeEventListener('abort', onAbort),
  };
}

/** The reason to reject with when `signal` has aborted. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
