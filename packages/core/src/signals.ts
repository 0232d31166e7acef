/** An abort signal that never aborts: the context's signal when the caller gave none and no deadline is set. */
export const neverAbortSignal: AbortSignal = new AbortController().signal;

/** The reason to reject with when `signal` has aborted. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}
