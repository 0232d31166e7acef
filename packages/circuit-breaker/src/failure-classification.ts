import { type BaseContext, isNetworkError, isTimeoutError } from '@shallot/core';
import type { CircuitOutcome, IsFailure } from './options.js';
import type { Verdict } from './state-machine.js';

/** Network errors, timeouts and 5xx responses count as failures; 4xx responses never do. */
export const defaultIsFailure: IsFailure = (_ctx, outcome) => {
  if (outcome.response !== undefined) return outcome.response.status >= 500;
  return isNetworkError(outcome.error) || isTimeoutError(outcome.error);
};

/** True when the call ended because the caller aborted it (not because a deadline passed). */
export function callerAborted(ctx: BaseContext, error: unknown): boolean {
  if (!ctx.aborted || isTimeoutError(error)) return false;
  return !isTimeoutError(ctx.signal.reason);
}

/** How an outcome counts for the circuit: the caller's own abort says nothing about the upstream. */
export function classify(ctx: BaseContext, outcome: CircuitOutcome, isFailure: IsFailure): Verdict {
  if (outcome.error !== undefined && callerAborted(ctx, outcome.error)) return 'ignore';
  let failed: boolean;
  try {
    failed = isFailure(ctx, outcome);
  } catch (error) {
    ctx.log.warn({ err: error }, 'circuitBreaker: isFailure threw; using the default classification');
    failed = defaultIsFailure(ctx, outcome);
  }
  return failed ? 'failure' : 'success';
}
