import { errorGuard, type RequestTarget, ShallotError } from '@shallot/core';
import type { GiveUpReason } from './events.js';

const reasons: Record<GiveUpReason, string> = {
  attempts: 'no attempts left',
  budget: 'the retry budget is spent',
  deadline: 'the next wait would outlast the deadline',
  'retry-after': 'Retry-After asks for a longer wait than maxRetryAfterMs',
  'body-not-replayable': 'the request body is a stream that was already sent',
};

/** What {@link MaxRetriesExceededError} is made of. */
export interface MaxRetriesExceededErrorOptions {
  /** Attempts made. */
  attempts: number;
  /** Why retrying stopped. */
  reason: GiveUpReason;
  /** The last attempt's error (`BodyNotReplayableError` when the body could not be re-sent). */
  cause: unknown;
  /** The request, named in the message. */
  request?: RequestTarget | undefined;
}

/**
 * Retrying stopped on an error: `attempts` were made and the last attempt's error is `cause`.
 * (Retrying that stops on a response returns the last response instead.)
 *
 * @example
 * try {
 *   await client.get('/flaky');
 * } catch (error) {
 *   if (isMaxRetriesExceededError(error)) console.log(error.attempts, error.cause);
 * }
 */
export class MaxRetriesExceededError extends ShallotError {
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** Why retrying stopped. */
  readonly reason: GiveUpReason;

  constructor(options: MaxRetriesExceededErrorOptions) {
    const attempts = `${options.attempts} attempt${options.attempts === 1 ? '' : 's'}`;
    const cause = options.cause instanceof Error ? `: ${options.cause.message}` : '';
    super('ERR_MAX_RETRIES', `gave up after ${attempts} (${reasons[options.reason]})${cause}`, {
      cause: options.cause,
      request: options.request,
    });
    this.name = 'MaxRetriesExceededError';
    this.attempts = options.attempts;
    this.reason = options.reason;
  }
}

/** True for a {@link MaxRetriesExceededError} from any installed copy of shallot. */
export const isMaxRetriesExceededError = errorGuard<MaxRetriesExceededError>('ERR_MAX_RETRIES');
