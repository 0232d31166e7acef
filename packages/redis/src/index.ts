export { redisCacheStore, type RedisCacheStore } from './cache-store.js';
export { redisCircuitBreakerStore, type RedisCircuitBreakerStore } from './circuit-breaker-store.js';
export { isRedisStoreTimeoutError, RedisStoreTimeoutError } from './errors.js';
export type { RedisStoreControls, RedisStoreHealthChange, RedisStoreHealthListener, RedisStoreStats } from './health.js';
export {
  redisCacheStoreOptionsSchema,
  redisCircuitBreakerStoreOptionsSchema,
  redisConnectionOptionsSchema,
  redisRateLimitStoreOptionsSchema,
  type RedisCacheStoreOptions,
  type RedisCircuitBreakerStoreOptions,
  type RedisClient,
  type RedisRateLimitStoreOptions,
  type ResolvedRedisCacheStoreOptions,
  type ResolvedRedisCircuitBreakerStoreOptions,
  type ResolvedRedisConnectionOptions,
  type ResolvedRedisRateLimitStoreOptions,
} from './options.js';
export { redisRateLimitStore, type RedisRateLimitStore } from './rate-limit-store.js';
