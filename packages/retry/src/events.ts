import type { BaseContext } from '@shallot/core';

/** Returned by `onRetry` and `onGiveUp`: `dispose()` removes the listener. */
export type { Subscription } from '@shallot/core';

/** Why retrying stopped on an outcome that was retryable. */
export type GiveUpReason =
  /** `maxAttempts` were made. */
  | 'attempts'
  /** The retry budget was spent. */
  | 'budget'
  /** The wait would end at or past the deadline. */
  | 'deadline'
  /** `Retry-After` asked for a wait longer than `maxRetryAfterMs`. */
  | 'retry-after'
  /** The request body is a stream that was already sent. */
  | 'body-not-replayable';

/** Passed to `onRetry` listeners before each retry's wait. */
export interface RetryEvent {
  readonly ctx: BaseContext;
  /** The attempt that just failed (1-based); the next one is `attempt + 1`. */
  readonly attempt: number;
  /** How long the layer waits before the next attempt. */
  readonly delayMs: number;
  /** The retryable response, when the attempt answered. Its body is discarded. */
  readonly response?: Response | undefined;
  /** The retryable error, when the attempt failed. */
  readonly error?: unknown;
}

/** Passed to `onGiveUp` listeners when retrying stops on an outcome that was retryable. */
export interface GiveUpEvent {
  readonly ctx: BaseContext;
  /** Attempts made. */
  readonly attempts: number;
  readonly reason: GiveUpReason;
  /** The last response, when the last attempt answered. */
  readonly response?: Response | undefined;
  /** The last error, when the last attempt failed. */
  readonly error?: unknown;
}
