import { parseOptions } from '@shallot/core';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { CircuitBreakerRecord } from './state-machine.js';

/** A record that changed outside this process, as a shared store heard of it. */
export interface CircuitBreakerStoreChange {
  /** The circuit's key. */
  readonly key: string;
  /** The record this process had before the change (`undefined`: none yet, the circuit was closed). */
  readonly previous: CircuitBreakerRecord | undefined;
  /** The record now stored (what `peek(key)` answers from now on). */
  readonly record: CircuitBreakerRecord;
}

/**
 * Where circuit records live. The memory store keeps them in this process; a shared store (Redis)
 * lets every process of a service see the same circuits. Methods may return promises.
 *
 * A store must make `update` atomic per key: read the record, call `apply`, write its result,
 * with no other write to that key in between. A store that does this optimistically (Redis
 * `WATCH`/`MULTI`, or a compare-and-set on `generation`) may call `apply` again on a fresh read
 * after a conflict; `apply` is pure, and the result of its last call is the one that must be
 * stored and returned. When `apply` returns the record it was given, nothing needs writing.
 *
 * The breaker runs `update` for every call it admits, and again for its outcome. A store that
 * answers synchronously when nothing changes (a closed circuit, a success on a clean count)
 * keeps the success path free of I/O and of promises. When `update` returns a promise for an
 * outcome, the breaker does not wait for it: the response goes back to the caller at once.
 */
export interface CircuitBreakerStore {
  /** Atomically replaces the record of `key` with `apply(current)` and returns what was stored. */
  update(key: string, apply: (current: CircuitBreakerRecord | undefined) => CircuitBreakerRecord): CircuitBreakerRecord | Promise<CircuitBreakerRecord>;
  /**
   * The record of `key` as this process last saw it, without I/O (for `breaker.state(key)`).
   * A shared store answers from a local copy it refreshes on every `update`.
   */
  peek(key: string): CircuitBreakerRecord | undefined;
  /** Every record this process knows, without I/O (for `breaker.snapshot()`). */
  entries(): Iterable<readonly [string, CircuitBreakerRecord]>;
  /**
   * Calls `listener` when a record this process knows changes elsewhere (a shared store hears
   * of another process's write), once `peek` answers with the new record. The breaker reports
   * the state changes heard this way to its `onStateChange` listeners, so every process of a
   * service sees a circuit open. Optional: a store local to the process has nothing to hear.
   */
  onChange?(listener: (change: CircuitBreakerStoreChange) => void): { dispose(): void };
}

/** Options of {@link memoryCircuitBreakerStore}. */
export interface MemoryCircuitBreakerStoreOptions {
  /** Most circuits kept; the least recently used is forgotten first (it comes back closed). @default 10_000 */
  maxKeys?: number;
}

const memoryStoreOptionsSchema = z.strictObject({ maxKeys: z.number().int().min(1).default(10_000) });

/**
 * Keeps circuit records in this process, in an LRU bounded by `maxKeys`, so a crawler that
 * touches a million hosts holds at most `maxKeys` circuits. `update` runs `apply` synchronously,
 * which makes it atomic.
 *
 * @example
 * const store = memoryCircuitBreakerStore({ maxKeys: 1_000 });
 * compose().use(circuitBreaker({ store }))
 */
export function memoryCircuitBreakerStore(options: MemoryCircuitBreakerStoreOptions = {}): CircuitBreakerStore {
  const { maxKeys } = parseOptions(memoryStoreOptionsSchema, options, 'memoryCircuitBreakerStore');
  const records = new LRUCache<string, CircuitBreakerRecord>({ max: maxKeys });
  return {
    update(key, apply) {
      const current = records.get(key);
      const next = apply(current);
      if (next !== current) records.set(key, next);
      return next;
    },
    peek: (key) => records.peek(key),
    *entries() {
      // lru-cache iterates most recently used first; snapshot oldest first so a hydrate replays recency.
      for (const [key, record] of records.rentries()) yield [key as string, record as CircuitBreakerRecord] as const;
    },
  };
}
