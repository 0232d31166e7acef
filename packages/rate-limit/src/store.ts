import { parseOptions } from '@shallot/core';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { type GcraDecision, type GcraParams, gcraPauseUntil, gcraRefund, gcraTake } from './gcra.js';

/** The bucket shape and the time of a store call. */
export interface RateLimitStoreRequest extends GcraParams {
  /** The caller's clock (`ctx.clock.now()`), in ms. */
  readonly now: number;
}

/** A request for one token. */
export interface RateLimitTakeRequest extends RateLimitStoreRequest {
  /** The longest wait the caller accepts for a reserved token: 0 for none, possibly `Infinity`. */
  readonly maxWaitMs: number;
}

/** What a store answers to a take. */
export type RateLimitDecision = GcraDecision;

/**
 * Where token buckets live: in this process (`memoryRateLimitStore()`), or shared between the
 * processes of a service (a Redis store running the same GCRA in a Lua script). Every method may
 * return a promise, and each must be atomic per key. A bucket is one number per key (the GCRA's
 * theoretical arrival time); the shape of the bucket is passed with every call, so an adaptive
 * limiter can change it between calls.
 */
export interface RateLimitStore {
  /**
   * Takes one token from the bucket of `key`, or reserves the next one if it is free within
   * `maxWaitMs` (the caller then waits `waitMs`). Refuses, changing nothing, when the wait would
   * be longer.
   */
  take(key: string, request: RateLimitTakeRequest): RateLimitDecision | Promise<RateLimitDecision>;
  /** Gives one token back to the bucket of `key` (an abandoned reservation, or a request never sent). */
  refund(key: string, request: RateLimitStoreRequest): void | Promise<void>;
  /** Holds the bucket of `key` empty until `untilMs` (the upstream said its window is spent). */
  pauseUntil(key: string, request: RateLimitStoreRequest & { readonly untilMs: number }): void | Promise<void>;
}

/** Options of {@link memoryRateLimitStore}. */
export interface MemoryRateLimitStoreOptions {
  /**
   * Most buckets kept; the least recently used is forgotten first (it comes back full).
   * @default 10_000
   */
  maxKeys?: number;
}

const memoryStoreOptionsSchema = z.strictObject({ maxKeys: z.number().int().min(1).default(10_000) });

/**
 * Keeps token buckets in this process, one number per key in an LRU bounded by `maxKeys`.
 * Every method runs synchronously, which makes it atomic.
 *
 * @example
 * const store = memoryRateLimitStore({ maxKeys: 100_000 });
 * compose().use(rateLimit({ limit: 10, intervalMs: 1_000, key: { header: 'X-User-ID' }, store }))
 */
export function memoryRateLimitStore(options: MemoryRateLimitStoreOptions = {}): RateLimitStore {
  const { maxKeys } = parseOptions(memoryStoreOptionsSchema, options, 'memoryRateLimitStore');
  const buckets = new LRUCache<string, number>({ max: maxKeys });
  const write = (key: string, tat: number | undefined): void => {
    if (tat === undefined) buckets.delete(key);
    else buckets.set(key, tat);
  };
  return {
    take(key, request) {
      const { tat, decision } = gcraTake(buckets.get(key), request.now, request, request.maxWaitMs);
      if (decision.allowed) write(key, tat);
      return decision;
    },
    refund(key, request) {
      write(key, gcraRefund(buckets.get(key), request.now, request));
    },
    pauseUntil(key, request) {
      write(key, gcraPauseUntil(buckets.get(key), request.now, request, request.untilMs));
    },
  };
}
