export { concurrencyLimit } from './concurrency-limit.js';
export { isRateLimitExceededError, RateLimitExceededError, type RateLimitReason } from './errors.js';
export type { GcraParams } from './gcra.js';
export {
  adaptiveOptionsSchema,
  concurrencyLimitOptionsSchema,
  rateLimitOptionsSchema,
  type ConcurrencyLimitOptions,
  type LimitKey,
  type LimitKeyFunction,
  type RateLimitOptions,
  type ResolvedConcurrencyLimitOptions,
  type ResolvedRateLimitOptions,
} from './options.js';
export { rateLimit, type RateLimitContext, type RateLimitControls, type RateLimitMiddleware } from './rate-limit.js';
export { readUpstreamLimit, type UpstreamLimitSignal } from './rate-limit-headers.js';
export {
  memoryRateLimitStore,
  type MemoryRateLimitStoreOptions,
  type RateLimitDecision,
  type RateLimitStore,
  type RateLimitStoreRequest,
  type RateLimitTakeRequest,
} from './store.js';
