import type { Logger } from '@shallot/core';
import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

/** A connected (or connecting) ioredis client: a single node or a cluster. */
export type RedisClient = Redis | Cluster;

const isClient = (value: unknown): boolean => {
  if (typeof value !== 'object' || value === null) return false;
  const client = value as Partial<Redis>;
  return typeof client.evalsha === 'function' && typeof client.duplicate === 'function' && typeof client.status === 'string';
};

const isLogger = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && ['debug', 'info', 'warn', 'error'].every((level) => typeof (value as Record<string, unknown>)[level] === 'function');

const positiveMs = z.number().positive().finite();

/** The options every Redis store takes: where Redis is, how keys are named, how long to wait for it. */
export const redisConnectionOptionsSchema = z.strictObject({
  /**
   * An ioredis client (`new Redis(...)` or `new Cluster(...)`) to send commands through. The
   * store does not close it. Give either `client` or `url`.
   */
  client: z.custom<RedisClient>(isClient, { message: 'expected an ioredis Redis or Cluster client' }).optional(),
  /**
   * A Redis URL (`redis://[user:password@]host:port/db`, `rediss://` for TLS): the store opens
   * its own connection, reconnects on its own and closes it on `close()`. Give either `client` or `url`.
   */
  url: z
    .string()
    .regex(/^rediss?:\/\//, { message: "expected a redis:// or rediss:// URL" })
    .optional(),
  /**
   * Put before every key and channel name, so several services (or tests) can share one Redis.
   * Keys are hash-tagged per key (`{<keyPrefix><kind>:<key>}`), so Redis Cluster keeps all of
   * one key's data in one slot.
   * @default 'shallot:'
   */
  keyPrefix: z.string().default('shallot:'),
  /**
   * The longest a command may take. A command slower than this, or failing, puts the store in
   * degraded mode: it answers from local state, without waiting on Redis, until Redis answers
   * a health check again.
   * @default 100
   */
  timeoutMs: positiveMs.default(100),
  /** How often a degraded store checks whether Redis answers again (it also checks on every reconnect). @default 1_000 */
  healthCheckIntervalMs: positiveMs.default(1_000),
  /** Where the store says that it degraded and recovered (a pino-compatible logger). @default silent */
  logger: z.custom<Logger>(isLogger, { message: 'expected a pino-compatible logger (debug, info, warn, error)' }).optional(),
});

const connectionRefinement = <T extends { client?: unknown; url?: unknown }>(o: T, issues: z.RefinementCtx): void => {
  if ((o.client === undefined) === (o.url === undefined)) {
    issues.addIssue({ code: 'custom', path: ['client'], message: 'give either client (an ioredis client) or url, not both and not neither' });
  }
};

/** Options of `redisRateLimitStore()`. */
export const redisRateLimitStoreOptionsSchema = redisConnectionOptionsSchema
  .extend({
    /**
     * The share of each limit this process allows itself while Redis is unreachable (its local
     * bucket runs at `limit × fallbackShare`). With N processes, `1 / N` keeps the whole service
     * within the limit during an outage; 1 lets each process use the whole limit.
     * @default 1
     */
    fallbackShare: z.number().gt(0).max(1).default(1),
    /** Most keys the local fallback keeps. @default 10_000 */
    maxKeys: z.number().int().min(1).default(10_000),
  })
  .superRefine(connectionRefinement);

/** What users pass to `redisRateLimitStore()`. */
export type RedisRateLimitStoreOptions = z.input<typeof redisRateLimitStoreOptionsSchema>;
/** {@link RedisRateLimitStoreOptions} with defaults applied. */
export type ResolvedRedisRateLimitStoreOptions = z.output<typeof redisRateLimitStoreOptionsSchema>;

/** Options of `redisCircuitBreakerStore()`. */
export const redisCircuitBreakerStoreOptionsSchema = redisConnectionOptionsSchema
  .extend({
    /** Most circuits this process keeps a local copy of (the least recently used are read again from Redis). @default 10_000 */
    maxKeys: z.number().int().min(1).default(10_000),
    /** How long Redis keeps a circuit nobody writes to (every write restarts it). @default 86_400_000 (a day) */
    recordTtlMs: positiveMs.default(86_400_000),
  })
  .superRefine(connectionRefinement);

/** What users pass to `redisCircuitBreakerStore()`. */
export type RedisCircuitBreakerStoreOptions = z.input<typeof redisCircuitBreakerStoreOptionsSchema>;
/** {@link RedisCircuitBreakerStoreOptions} with defaults applied. */
export type ResolvedRedisCircuitBreakerStoreOptions = z.output<typeof redisCircuitBreakerStoreOptionsSchema>;

const MiB = 1024 * 1024;

/** Options of `redisCacheStore()`. */
export const redisCacheStoreOptionsSchema = redisConnectionOptionsSchema
  .extend({
    /** Records larger than this (body, headers and all) are not stored. @default 5 MiB */
    maxEntryBytes: z.number().int().positive().default(5 * MiB),
    /**
     * The longest Redis keeps a record. Responses expire after their freshness plus their stale
     * windows (the cache's `ttlMs` hint); those it can revalidate, and the indexes, after this.
     * @default 86_400_000 (a day)
     */
    maxTtlMs: positiveMs.default(86_400_000),
    /** Bound on the bytes of the local memory store used while Redis is unreachable. @default 10 MiB */
    fallbackMaxSizeBytes: z.number().int().positive().default(10 * MiB),
  })
  .superRefine(connectionRefinement);

/** What users pass to `redisCacheStore()`. */
export type RedisCacheStoreOptions = z.input<typeof redisCacheStoreOptionsSchema>;
/** {@link RedisCacheStoreOptions} with defaults applied. */
export type ResolvedRedisCacheStoreOptions = z.output<typeof redisCacheStoreOptionsSchema>;

/** The connection part of any store's resolved options. */
export type ResolvedRedisConnectionOptions = z.output<typeof redisConnectionOptionsSchema>;
