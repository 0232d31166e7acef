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

// Fixed cost charged per record on top of its strings and body: the objects around them.
const recordOverhead = 256;

function headerBytes(headers: Record<string, string | string[] | undefined> | null | undefined): number {
  if (headers === null || headers === undefined) return 0;
  let n = 0;
  for (const name in headers) {
    const value = headers[name];
    n += name.length + (Array.isArray(value) ? value.reduce((sum, v) => sum + v.length, 0) : (value?.length ?? 0));
  }
  return n;
}

/** The bytes a record is charged: its body, its header strings, its key and a fixed overhead. */
function recordSize(record: CacheRecord, key: string): number {
  if (record.kind === 'index') {
    const strings = [record.epoch, ...record.vary, ...record.variants];
    return recordOverhead + key.length + strings.reduce((n, v) => n + v.length, 0);
  }
  const policy = record.policy;
  return recordOverhead + key.length + record.body.byteLength + headerBytes(policy.resh) + headerBytes(policy.reqh) + (policy.u?.length ?? 0);
}

/**
 * An in-memory {@link CacheStore}: an LRU (lru-cache) bounded by bytes, each record charged its
 * body, header strings and key. When a new record would pass `maxSizeBytes`, the least recently
 * used records are evicted; a record larger than the bound is not stored. Records are kept until
 * evicted: `ttlMs` hints are not needed, because the cache decides what is still usable.
 *
 * @example
 * const store = memoryCacheStore({ maxSizeBytes: 10 * 1024 * 1024 });
 * compose().use(cache({ store }));
 */
export function memoryCacheStore(options: MemoryCacheStoreOptions = {}): MemoryCacheStore {
  const { maxSizeBytes } = parseOptions(memoryCacheStoreOptionsSchema, options, 'memoryCacheStore');
  const lru = new LRUCache<string, CacheRecord>({ maxSize: maxSizeBytes, sizeCalculation: recordSize });
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
