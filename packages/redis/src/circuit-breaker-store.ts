import { randomUUID } from 'node:crypto';
import type { CircuitBreakerRecord, CircuitBreakerStore, CircuitBreakerStoreChange } from '@shallot/circuit-breaker';
import { parseOptions } from '@shallot/core';
import { LRUCache } from 'lru-cache';
import { compareAndSetScript } from './circuit-script.js';
import { RedisConnection } from './connection.js';
import type { RedisStoreControls } from './health.js';
import { type RedisCircuitBreakerStoreOptions, redisCircuitBreakerStoreOptionsSchema } from './options.js';
import { CircuitSubscription } from './circuit-subscription.js';

/** A {@link CircuitBreakerStore} in Redis, with its health and `close()`. */
export interface RedisCircuitBreakerStore extends CircuitBreakerStore, RedisStoreControls {}

type Apply = (current: CircuitBreakerRecord | undefined) => CircuitBreakerRecord;

/** A local copy of a circuit: its record, the version it has in Redis, and whether it can be trusted. */
interface Copy {
  readonly record: CircuitBreakerRecord | undefined;
  readonly version: string;
  /** The subscription epoch it was read in; -1 for a copy changed locally while Redis was down. */
  readonly epoch: number;
}

interface Job {
  readonly apply: Apply;
  readonly resolve: (record: CircuitBreakerRecord) => void;
}

/** Compare-and-set rounds before a commit gives up on Redis (each lost round means another process wrote). */
const maxRounds = 100;

function parseRecord(json: string | null | undefined): CircuitBreakerRecord | undefined {
  if (json === null || json === undefined || json === '') return undefined;
  return JSON.parse(json) as CircuitBreakerRecord;
}

/**
 * Circuit state shared by every process that uses the same Redis and `keyPrefix`: a circuit
 * opened by one process fails fast in all of them, and only `halfOpenMaxProbes` probes run
 * across the whole fleet.
 *
 * Each process keeps a local copy of the circuits it uses, kept current by Redis pub/sub (on a
 * second connection), so a closed circuit costs no round trip: admitting a call and counting
 * its success read the copy alone. A change (a failure counted, a circuit opening, a probe
 * slot taken) is a compare-and-set Lua script on the version the copy was read at; a process
 * that lost the race runs the state machine again on the winner's record. Changes to the same
 * circuit made in one tick go to Redis together, and the breaker does not wait for outcomes
 * to be counted. Every change is published, and every process's copy follows at once.
 *
 * Probes hold a lease (`circuitBreaker({ probeLeaseMs })`): a process that dies mid-probe
 * cannot wedge the circuit half-open. When Redis fails or is slower than `timeoutMs`, the
 * store keeps going on its local copies (logs one warning, counts it), and reads every circuit
 * again from Redis once it answers.
 *
 * Failure counting with `policy: 'sampling'` changes the record on every outcome, so each
 * outcome costs a (batched, background) round trip; `'consecutive'` (the default) does not.
 *
 * @example
 * const store = redisCircuitBreakerStore({ url: 'redis://127.0.0.1:6379' });
 * compose().use(circuitBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000, store }))
 */
export function redisCircuitBreakerStore(options: RedisCircuitBreakerStoreOptions): RedisCircuitBreakerStore {
  const resolved = parseOptions(redisCircuitBreakerStoreOptionsSchema, options, 'redisCircuitBreakerStore');
  const connection = new RedisConnection(resolved, 'redisCircuitBreakerStore');
  const { health } = connection;
  const writer = randomUUID();
  const channel = connection.channel('cb');
  const ttlMs = Math.ceil(resolved.recordTtlMs);
  const copies = new LRUCache<string, Copy>({ max: resolved.maxKeys });
  const queues = new Map<string, Job[]>();
  const loading = new Set<string>();
  const listeners = new Set<(change: CircuitBreakerStoreChange) => void>();

  /** Keeps `copy` unless a newer one of the same epoch is already there. */
  const remember = (key: string, copy: Copy): void => {
    const known = copies.peek(key);
    if (known !== undefined && known.epoch === copy.epoch && Number(known.version) > Number(copy.version)) return;
    copies.set(key, copy);
  };

  const subscription = new CircuitSubscription(connection.duplicate(), channel, (message) => {
    const known = copies.peek(message.key);
    if (known === undefined && !loading.has(message.key)) return;
    if (known !== undefined && known.epoch === subscription.epoch && Number(known.version) >= Number(message.version)) return;
    copies.set(message.key, { record: message.record, version: message.version, epoch: subscription.epoch });
    const previous = known?.record;
    if (message.writer === writer || previous?.state === message.record.state || known === undefined) return;
    for (const listener of listeners) {
      try {
        listener({ key: message.key, previous, record: message.record });
      } catch (error) {
        // A listener's failure must not reach ioredis' event loop (it would be an uncaught exception).
        resolved.logger?.error({ err: error, store: 'redisCircuitBreakerStore' }, 'redisCircuitBreakerStore: an onChange listener threw');
      }
    }
  });
  // Copies read before the outage may be stale now: read every circuit again.
  health.onRecover(() => subscription.invalidate());

  /** The copy of `key` if the subscription guarantees it is current. */
  const trusted = (key: string): Copy | undefined => {
    const copy = copies.get(key);
    return copy !== undefined && subscription.active && copy.epoch === subscription.epoch ? copy : undefined;
  };

  const load = async (key: string): Promise<Copy> => {
    loading.add(key);
    try {
      const epoch = subscription.epoch;
      const [version, json] = await connection.call((client) => client.hmget(connection.key('cb', key), 'v', 'r'));
      const copy: Copy = { record: parseRecord(json), version: version ?? '0', epoch };
      remember(key, copy);
      return copy;
    } finally {
      loading.delete(key);
    }
  };

  /** Runs `jobs` in order from `from`: the record after each. */
  const runAll = (jobs: readonly Job[], from: CircuitBreakerRecord | undefined): CircuitBreakerRecord[] => {
    const results: CircuitBreakerRecord[] = [];
    let record = from;
    for (const job of jobs) results.push((record = job.apply(record)));
    return results;
  };

  const resolveAll = (jobs: readonly Job[], results: readonly CircuitBreakerRecord[]): void => {
    jobs.forEach((job, i) => job.resolve(results[i]!));
  };

  /** Applies `jobs` to the local copy alone (Redis is down); the copy is read again once it is back. */
  const commitLocally = (key: string, jobs: readonly Job[]): void => {
    const copy = copies.get(key);
    const results = runAll(jobs, copy?.record);
    copies.set(key, { record: results.at(-1), version: copy?.version ?? '0', epoch: -1 });
    resolveAll(jobs, results);
  };

  /** Applies `jobs` in order and stores the result with one compare-and-set (again on a conflict). */
  const commit = async (key: string, jobs: readonly Job[]): Promise<void> => {
    if (!connection.usable()) {
      health.fellBack();
      commitLocally(key, jobs);
      return;
    }
    try {
      let current = trusted(key) ?? (await load(key));
      for (let round = 1; round <= maxRounds; round++) {
        const results = runAll(jobs, current.record);
        const next = results.at(-1);
        if (next === current.record || next === undefined) {
          resolveAll(jobs, results);
          return;
        }
        const args = [current.version, JSON.stringify(next), ttlMs, channel, writer, JSON.stringify(key)];
        const reply = (await connection.eval(compareAndSetScript, [connection.key('cb', key)], args)) as [number, string, string?];
        if (reply[0] === 1) {
          remember(key, { record: next, version: String(reply[1]), epoch: current.epoch });
          resolveAll(jobs, results);
          return;
        }
        current = { record: parseRecord(reply[2]), version: String(reply[1]), epoch: current.epoch };
        remember(key, current);
      }
      throw new Error(`circuit '${key}' changed under every one of ${maxRounds} attempts to update it`);
    } catch (error) {
      health.fail(error);
      health.fellBack();
      commitLocally(key, jobs);
    }
  };

  /** Queues a change of `key`; the changes queued in one tick are committed together. */
  const enqueue = (key: string, apply: Apply): Promise<CircuitBreakerRecord> =>
    new Promise((resolve) => {
      const queued = queues.get(key);
      if (queued !== undefined) {
        queued.push({ apply, resolve });
        return;
      }
      const jobs: Job[] = [{ apply, resolve }];
      queues.set(key, jobs);
      setImmediate(() => void drain(key, jobs));
    });

  /** Commits the queue of `key` until it is empty: changes made meanwhile form the next batch. */
  const drain = async (key: string, jobs: Job[]): Promise<void> => {
    for (;;) {
      const batch = jobs.splice(0);
      await commit(key, batch);
      if (jobs.length === 0) break;
    }
    queues.delete(key);
  };

  const close = async (): Promise<void> => {
    await subscription.close();
    await connection.close();
  };

  return {
    update(key, apply) {
      if (!connection.usable()) {
        health.fellBack();
        const copy = copies.get(key);
        const next = apply(copy?.record);
        if (next !== copy?.record) copies.set(key, { record: next, version: copy?.version ?? '0', epoch: -1 });
        return next;
      }
      // The hot path: a current copy and nothing to change (a closed circuit admitting a call).
      const copy = trusted(key);
      if (copy !== undefined) {
        const next = apply(copy.record);
        if (next === copy.record) return next;
      }
      return enqueue(key, apply);
    },
    peek: (key) => copies.peek(key)?.record,
    *entries() {
      // Oldest first, as the memory store does, so a hydrate replays recency.
      for (const [key, copy] of copies.rentries() as Iterable<[string, Copy]>) if (copy.record !== undefined) yield [key, copy.record] as const;
    },
    onChange(listener) {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
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
