import type CachePolicy from 'http-cache-semantics';

/**
 * A stored response: everything needed to serve it again, all of it serialisable (a Redis store
 * can keep it as JSON plus the body bytes). The response headers live in `policy` (the
 * http-cache-semantics `toObject()` form), so a 304 that refreshes them replaces the policy alone.
 */
export interface CacheEntry {
  readonly kind: 'response';
  /** The response status. */
  readonly status: number;
  /** The response status text. */
  readonly statusText: string;
  /** The whole body, as received (after content decoding by the transport). */
  readonly body: Uint8Array;
  /** `CachePolicy#toObject()`: the request and response headers the cache decides with. */
  readonly policy: CachePolicy.CachePolicyObject;
}

/**
 * What is stored under a URL's primary key (method and URL): the request headers its responses
 * vary on, the epoch that names the current generation of its variants, and the variants stored.
 * Deleting the index invalidates every variant at once, even if `variants` missed one (two
 * processes updating it at the same time): the next response starts a new epoch, and keys of
 * older epochs are never looked up again. The cache deletes the listed variants too, so they do
 * not wait for eviction.
 */
export interface CacheIndex {
  readonly kind: 'index';
  /** Lower-case request header names from the response's `Vary`. */
  readonly vary: readonly string[];
  /** A random id, part of every variant key of this generation. */
  readonly epoch: string;
  /** The store keys of the variants stored in this generation (at most 64, the newest). */
  readonly variants: readonly string[];
}

/** A value in a {@link CacheStore}. */
export type CacheRecord = CacheEntry | CacheIndex;

/** Hints given with {@link CacheStore.set}. */
export interface CacheStoreSetOptions {
  /**
   * After this many milliseconds the record is of no use (it is past its freshness and every
   * stale window, and has no validator to revalidate with); a store may drop it then.
   * `undefined`: keep it until evicted.
   */
  readonly ttlMs?: number | undefined;
}

/** How much a store holds, for `stats()`. */
export interface CacheStoreUsage {
  /** Bytes held, by the store's own accounting. */
  readonly bytes: number;
  /** Stored responses (indexes not counted). */
  readonly entries: number;
}

/**
 * Where `cache()` keeps its records. Each method may answer synchronously or with a promise, so
 * an in-memory store costs no extra tick and a Redis store can plug in. A store must not mutate a
 * record it was given, and may hand back the same object or a copy. A failing store never fails
 * a request: the cache logs and goes to the network.
 */
export interface CacheStore {
  /** The record under `key`, or `undefined`. */
  get(key: string): CacheRecord | undefined | Promise<CacheRecord | undefined>;
  /** Stores `record` under `key`, replacing any. */
  set(key: string, record: CacheRecord, options?: CacheStoreSetOptions): void | Promise<void>;
  /** Removes `key`. */
  delete(key: string): void | Promise<void>;
  /** Removes everything. Without it, `cache.clear()` makes every stored key unreachable instead. */
  clear?(): void | Promise<void>;
  /** What the store holds, when it can tell cheaply. */
  usage?(): CacheStoreUsage;
}
