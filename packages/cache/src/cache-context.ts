/**
 * What the cache did with a request, as `ctx.cache.status` and the `x-cache` response header:
 * - `HIT`: served fresh from the cache; nothing was sent.
 * - `MISS`: the response came from upstream (and was stored if it could be).
 * - `STALE`: a stale entry was served: under `stale-while-revalidate` (a background revalidation
 *   was started), `stale-if-error` (upstream failed), or because the request allowed it
 *   (`max-stale`, the `force-cache` and `only-if-cached` modes).
 * - `REVALIDATED`: a conditional request got a 304; the stored body was served with refreshed headers.
 * - `BYPASS`: the cache was not consulted (method not cached, the `no-store` mode or request
 *   directive, a conditional request from the caller, a range it cannot parse, a request body,
 *   credentials in the URL).
 */
export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED' | 'BYPASS';

/** Why a stale entry was served. */
export type StaleReason = 'stale-while-revalidate' | 'stale-if-error' | 'max-stale' | 'force-cache';

/** `ctx.cache`: what the cache layer did with this request. */
export interface CacheContext {
  /** What the cache did; also sent back as the `x-cache` response header. */
  status: CacheStatus;
  /** Why a stale entry was served, when `status` is `STALE`. */
  staleReason: StaleReason | undefined;
  /** True when this request was answered by an identical concurrent request's fetch. */
  coalesced: boolean;
  /**
   * The background revalidation of the entry served stale (started by this request, or one
   * already running for that entry); settles (never rejects) when the entry has been updated or
   * the attempt given up. `undefined` when none.
   */
  revalidation: Promise<void> | undefined;
}

/** Counters of `cache.stats()`. */
export interface CacheStats {
  /** Requests served fresh from the cache. */
  hits: number;
  /** Requests answered from upstream. */
  misses: number;
  /** Requests served a stale entry. */
  stale: number;
  /** Requests served a stored body after a 304. */
  revalidated: number;
  /** Requests the cache did not handle. */
  bypassed: number;
  /** Requests answered by an identical concurrent request's fetch (counted in the above too). */
  coalesced: number;
  /** Background revalidations started. */
  backgroundRevalidations: number;
  /** Bytes the store holds, if it can tell. */
  bytes: number | undefined;
  /** Responses the store holds, if it can tell. */
  entries: number | undefined;
}
