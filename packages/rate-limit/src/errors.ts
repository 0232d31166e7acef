import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';

/** Why a request was refused: no token in time, too many waiting, or too many in flight. */
export type RateLimitReason = 'rate' | 'concurrency' | 'queue';

function describe(key: string, reason: RateLimitReason, retryAfterMs: number): string {
  switch (reason) {
    case 'rate':
      return `rate limit '${key}' exceeded; a token is free in ${Math.ceil(retryAfterMs)} ms`;
    case 'queue':
      return `rate limit '${key}' exceeded; the wait queue is full`;
    case 'concurrency':
      return `concurrency limit '${key}' exceeded; every slot and queue place is taken`;
  }
}

/** A request was refused by `rateLimit()` or `concurrencyLimit()` before it reached the network. */
export class RateLimitExceededError extends ShallotError {
  /** The bucket's key (`'global'`, `host:port`, a header value...). */
  readonly key: string;
  /** Why it was refused. */
  readonly reason: RateLimitReason;
  /** Milliseconds until a token is free (for `'rate'`); the best estimate, or 0 when unknown. */
  readonly retryAfterMs: number;

  constructor(key: string, reason: RateLimitReason, retryAfterMs: number, options: ShallotErrorOptions = {}) {
    super('ERR_RATE_LIMITED', describe(key, reason, retryAfterMs), options);
    this.name = 'RateLimitExceededError';
    this.key = key;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** True for a {@link RateLimitExceededError} from any installed copy of shallot. */
export const isRateLimitExceededError = errorGuard<RateLimitExceededError>('ERR_RATE_LIMITED');
