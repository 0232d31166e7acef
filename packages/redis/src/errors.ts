import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';

/**
 * A Redis command took longer than the store's `timeoutMs`. It never reaches a request: the
 * store answers from local state instead, and reports it in its log line and `stats().lastError`.
 */
export class RedisStoreTimeoutError extends ShallotError {
  /** The bound that was passed. */
  readonly timeoutMs: number;

  constructor(timeoutMs: number, options: ShallotErrorOptions = {}) {
    super('ERR_REDIS_TIMEOUT', `Redis did not answer within ${timeoutMs} ms`, options);
    this.name = 'RedisStoreTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** True for a {@link RedisStoreTimeoutError} from any installed copy of shallot. */
export const isRedisStoreTimeoutError = errorGuard<RedisStoreTimeoutError>('ERR_REDIS_TIMEOUT');
