import { type CacheStore, memoryCacheStore } from '@shallot/cache';
import { parseOptions } from '@shallot/core';
import type { Cluster, Redis } from 'ioredis';
import { decodeRecord, encodeRecord } from './cache-codec.js';
import { RedisConnection } from './connection.js';
import type { RedisStoreControls } from './health.js';
import { type RedisCacheStoreOptions, redisCacheStoreOptionsSchema } from './options.js';

/** A {@link CacheStore} in Redis, with its health and `close()`. */
export interface RedisCacheStore extends CacheStore, RedisStoreControls {
  /** Removes every record under this store's `keyPrefix` (SCAN and UNLINK, on every primary of a cluster). */
  clear(): Promise<void>;
}

/** Escapes the glob characters of a literal for SCAN MATCH. */
const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * An HTTP cache shared by every process that uses the same Redis and `keyPrefix`: a response
 * stored by one is a hit in all of them. Each record (a response with its policy and body, or
 * the index of a URL's variants) is one binary-safe value, written with a TTL: a response lasts
 * its freshness plus its stale windows (`stale-while-revalidate`, `stale-if-error`), as the
 * cache computes it; one it can revalidate (it has a validator), and an index, last `maxTtlMs`.
 * Records larger than `maxEntryBytes` are not stored.
 *
 * When Redis fails or is slower than `timeoutMs`, the store answers from a memory store in this
 * process (bounded by `fallbackMaxSizeBytes`), logs one warning, and goes back to Redis as soon
 * as it answers again. A request never fails because Redis did.
 *
 * @example
 * const store = redisCacheStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'catalog:' });
 * compose().use(cache({ store, shared: true }))
 */
export function redisCacheStore(options: RedisCacheStoreOptions): RedisCacheStore {
  const resolved = parseOptions(redisCacheStoreOptionsSchema, options, 'redisCacheStore');
  const connection = new RedisConnection(resolved, 'redisCacheStore');
  const { health } = connection;
  const { maxEntryBytes, maxTtlMs } = resolved;
  const local = memoryCacheStore({ maxSizeBytes: resolved.fallbackMaxSizeBytes });
  // What was cached during an outage is not shared: Redis has the service's cache again.
  health.onRecover(() => local.clear());
  const keyOf = (key: string): string => connection.key('cache', key);

  /** A command failed: degrade, and answer this call locally. */
  const failed = <T>(error: unknown, onLocal: () => T): T => {
    health.fail(error);
    health.fellBack();
    return onLocal();
  };

  const close = (): Promise<void> => connection.close();
  return {
    get(key) {
      if (!connection.usable()) {
        health.fellBack();
        return local.get(key);
      }
      return connection.call((client) => client.getBuffer(keyOf(key))).then(
        (value) => (value === null ? undefined : decodeRecord(value)),
        (error: unknown) => failed(error, () => local.get(key)),
      );
    },
    set(key, record, setOptions) {
      if (!connection.usable()) {
        health.fellBack();
        return local.set(key, record, setOptions);
      }
      const value = encodeRecord(record);
      const ttlMs = Math.ceil(Math.min(setOptions?.ttlMs ?? maxTtlMs, maxTtlMs));
      // Too large, or of no use already: not stored, and an older record under the key goes too.
      const store = value.byteLength <= maxEntryBytes && ttlMs > 0;
      return connection.call((client) => (store ? client.set(keyOf(key), value, 'PX', ttlMs) : client.unlink(keyOf(key))) as Promise<unknown>).then(
        () => undefined,
        (error: unknown) => failed(error, () => local.set(key, record, setOptions)),
      );
    },
    delete(key) {
      local.delete(key);
      if (!connection.usable()) return;
      return connection.call((client) => client.unlink(keyOf(key))).then(
        () => undefined,
        (error: unknown) => failed(error, () => undefined),
      );
    },
    async clear() {
      local.clear();
      const client = connection.client;
      // A cluster's keys are spread over its primaries: each is scanned on its own.
      const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
      const pattern = `${globLiteral(`{${resolved.keyPrefix}cache:`)}*`;
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await connection.call(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000));
          cursor = next;
          if (keys.length > 0) await connection.call(() => Promise.all(keys.map((k) => node.unlink(k))));
        } while (cursor !== '0');
      }
    },
    get degraded() {
      return health.degraded;
    },
    stats: () => health.stats(),
    onHealthChange: (listener) => health.onChange(listener),
    close,
    [Symbol.asyncDispose]: close,
  };
}
