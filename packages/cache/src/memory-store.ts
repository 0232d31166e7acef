import { parseOptions } from '@shallot/core';
import { LRUCache } from 'lru-cache';
import { type MemoryCacheStoreOptions, memoryCacheStoreOptionsSchema } from './options.js';
import type { CacheRecord, CacheStore, CacheStoreSetOptions, CacheStoreUsage } from './store.js';

/** The store `cache()` uses unless given one: an LRU bounded by bytes. */
export interface MemoryCacheStore extends CacheStore {
  /** Answers at once: the memory store never returns a promise. */
  get(key: string): CacheRecord | undefined;
  set(key: string, record: CacheRecord, options?: CacheStoreSetOptions): void;
  delete(key: string): void;
  clear(): void;
  usage(): CacheStoreUsage;
}

// What a record costs besides its strings and body, measured (see README, "Memory"): the record
// and policy objects, the typed array around the body, the policy instance the cache keeps for
// each entry, the LRU's slot. A header costs a property slot, a string header and its
// characters; a response header a second slot, in the copy the policy serves hits from.
const responseOverhead = 768;
const indexOverhead = 320;
const perProperty = 40;
const servedCopy = 24;
const perString = 16;

type Strings = Record<string, string | string[] | boolean | undefined> | null | undefined;

function stringsBytes(record: Strings, extraPerProperty = 0): number {
  if (record === null || record === undefined) return 0;
  let n = 0;
  for (const name in record) {
    const value = record[name];
    n += perProperty + extraPerProperty + name.length;
    if (typeof value === 'string') n += value.length;
    else if (Array.isArray(value)) for (const item of value) n += perString + item.length;
  }
  return n;
}

/**
 * The bytes a record is charged: its body, its strings and keys, and the objects around them, so
 * that the store's bound is what the process really holds for it (measured: see README).
 */
export function recordSize(record: CacheRecord, key: string): number {
  const keyBytes = perString + key.length;
  if (record.kind === 'index') {
    let strings = perString + record.epoch.length;
    for (const name of record.vary) strings += perString + name.length;
    return indexOverhead + keyBytes + strings + record.variants.length * 8;
  }
  const policy = record.policy;
  const headers = stringsBytes(policy.resh, servedCopy) + stringsBytes(policy.rescc) + stringsBytes(policy.reqh) + stringsBytes(policy.reqcc);
  return responseOverhead + keyBytes + record.body.byteLength + headers + (policy.u?.length ?? 0) + record.statusText.length;
}

/**
 * An in-memory {@link CacheStore}: an LRU (lru-cache) bounded by bytes, each record charged what
 * it costs in memory (its body, strings, keys and the objects around them; see `recordSize`). When a new record would pass `maxSizeBytes`, the least recently
 * used records are evicted; a record larger than the bound is not stored. Records are kept until
 * evicted: `ttlMs` hints are not needed, because the cache decides what is still usable.
 *
 * @example
 * const store = memoryCacheStore({ maxSizeBytes: 10 * 1024 * 1024 });
 * compose().use(cache({ store }));
 */
export function memoryCacheStore(options: MemoryCacheStoreOptions = {}): MemoryCacheStore {
  const { maxSizeBytes } = parseOptions(memoryCacheStoreOptionsSchema, options, 'memoryCacheStore');
  const lru = new LRUCache<string, CacheRecord>({ maxSize: maxSizeBytes, sizeCalculation: (record, key) => recordSize(record, key) });
  return {
    get: (key) => lru.get(key),
    set(key, record) {
      lru.set(key, record);
    },
    delete(key) {
      lru.delete(key);
    },
    clear() {
      lru.clear();
    },
    usage() {
      let entries = 0;
      for (const record of lru.values()) if (record.kind === 'response') entries++;
      return { bytes: lru.calculatedSize, entries };
    },
  };
}
