export { cache, type CacheControls, type CacheMiddleware } from './cache.js';
export type { CacheContext, CacheStats, CacheStatus, StaleReason } from './cache-context.js';
export { memoryCacheStore, type MemoryCacheStore } from './memory-store.js';
export {
  cacheOptionsSchema,
  memoryCacheStoreOptionsSchema,
  type CacheOptions,
  type MemoryCacheStoreOptions,
  type ResolvedCacheOptions,
  type ResolvedMemoryCacheStoreOptions,
} from './options.js';
export type { CacheEntry, CacheIndex, CacheRecord, CacheStore, CacheStoreSetOptions, CacheStoreUsage } from './store.js';
