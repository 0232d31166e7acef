import { z } from 'zod';
import type { CacheStore } from './store.js';

const MiB = 1024 * 1024;

/** `maxEntryBytes` when not set: 5 MiB, or `maxSizeBytes` when that is smaller. */
export function defaultMaxEntryBytes(maxSizeBytes: number): number {
  return Math.min(5 * MiB, maxSizeBytes);
}

const isStore = (value: unknown): boolean => {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Record<string, unknown>;
  return typeof store.get === 'function' && typeof store.set === 'function' && typeof store.delete === 'function';
};

/** Options of `memoryCacheStore()`. */
export const memoryCacheStoreOptionsSchema = z.strictObject({
  /** Bound on the bytes held (bodies, header strings and keys); the least recently used go first. @default 50 MiB */
  maxSizeBytes: z.number().int().positive().default(50 * MiB),
});

/** What users pass to `memoryCacheStore()`. */
export type MemoryCacheStoreOptions = z.input<typeof memoryCacheStoreOptionsSchema>;
/** {@link MemoryCacheStoreOptions} with defaults applied. */
export type ResolvedMemoryCacheStoreOptions = z.output<typeof memoryCacheStoreOptionsSchema>;

/** Options of `cache()`. */
export const cacheOptionsSchema = z
  .strictObject({
    /**
     * Where entries are kept (`get`, `set`, `delete`); a Redis store plugs in here.
     * @default memoryCacheStore({ maxSizeBytes })
     */
    store: z.custom<CacheStore>(isStore, { message: 'expected a CacheStore (an object with get(), set() and delete())' }).optional(),
    /**
     * Apply shared-cache rules: `s-maxage` counts, `private` responses are not stored, responses to
     * requests with `Authorization` only when `public`, `s-maxage` or `must-revalidate` allows.
     * @default false (a private cache, as a user agent's)
     */
    shared: z.boolean().default(false),
    /**
     * Freshness given to storable responses that carry no explicit expiry (no `max-age`,
     * `s-maxage`, `Expires` or `no-cache`), in place of the Last-Modified heuristic. HTTP counts
     * freshness in whole seconds; this one keeps its milliseconds.
     */
    defaultTtlMs: z.number().int().positive().optional(),
    /** Honour `stale-while-revalidate`: serve the stale entry at once and revalidate it in the background. @default true */
    staleWhileRevalidate: z.boolean().default(true),
    /**
     * Honour `stale-if-error`: serve the stale entry when the network fails, the upstream answers
     * 5xx or a circuit is open; never past `must-revalidate`, `no-cache` (or, shared, `proxy-revalidate`, `s-maxage`).
     * @default true
     */
    staleIfError: z.boolean().default(true),
    /**
     * How long past its freshness a stored response may still answer, under `staleIfError`, when
     * upstream cannot (network error, 5xx, open circuit) although the response grants no
     * `stale-if-error` window itself: RFC 9111 §4.2.4 lets a cache that cannot reach the origin
     * serve stale. Never past `must-revalidate` or `no-cache`. `0` turns it off.
     * @default 60_000
     */
    staleOnErrorMs: z.number().int().nonnegative().default(60_000),
    /** Send one request upstream for identical concurrent misses and revalidations. @default true */
    coalesce: z.boolean().default(true),
    /** Bound on the bytes of the built-in memory store (ignored when `store` is given). @default 50 MiB */
    maxSizeBytes: z.number().int().positive().default(50 * MiB),
    /**
     * Bodies larger than this stream through to the caller and are not stored.
     * @default 5 MiB, or `maxSizeBytes` when that is smaller
     */
    maxEntryBytes: z.number().int().positive().optional(),
    /** Methods whose responses are stored. @default ['GET', 'HEAD'] */
    methods: z.array(z.enum(['GET', 'HEAD'])).min(1).default(['GET', 'HEAD']),
  })
  .refine((o) => o.store !== undefined || o.maxEntryBytes === undefined || o.maxEntryBytes <= o.maxSizeBytes, {
    message: 'maxEntryBytes must not exceed maxSizeBytes',
    path: ['maxEntryBytes'],
  });

/** What users pass to `cache()`. */
export type CacheOptions = z.input<typeof cacheOptionsSchema>;
/** {@link CacheOptions} with defaults applied. */
export type ResolvedCacheOptions = z.output<typeof cacheOptionsSchema>;
