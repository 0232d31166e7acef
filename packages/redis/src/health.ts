import type { Logger } from '@shallot/core';

/** How a Redis store is doing, for dashboards and alerts (`store.stats()`). */
export interface RedisStoreStats {
  /** True while the store answers from local state because Redis is unreachable or slow. */
  readonly degraded: boolean;
  /** Times the store went from Redis to local state. */
  readonly degradations: number;
  /** Operations answered from local state instead of Redis. */
  readonly fallbacks: number;
  /** Commands that failed or timed out. */
  readonly errors: number;
  /** The last failure's message, if there was one. */
  readonly lastError: string | undefined;
}

/** A store went from Redis to local state (`degraded: true`), or back. */
export interface RedisStoreHealthChange {
  readonly degraded: boolean;
  /** What failed, when the store degraded. */
  readonly error?: unknown;
  /** The counters as they are after the change. */
  readonly stats: RedisStoreStats;
}

/** Listens to a store's health changes. */
export type RedisStoreHealthListener = (change: RedisStoreHealthChange) => void;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Whether a store may use Redis. The first failure (an error, or a command past `timeoutMs`)
 * degrades the store: it logs one warning, answers from local state without waiting on Redis,
 * and checks every `intervalMs` (and on every reconnect) whether Redis answers; the first
 * check that passes recovers it, with one info line. Requests never wait on a Redis that is
 * known to be down.
 */
export class StoreHealth {
  private isDegraded = false;
  private degradations = 0;
  private fallbacks = 0;
  private errors = 0;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;
  private readonly recoverListeners = new Set<() => void>();
  private readonly listeners = new Set<RedisStoreHealthListener>();

  /**
   * @param name the store, as named in log lines
   * @param check resolves when Redis answers, rejects when not
   */
  constructor(
    private readonly name: string,
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly check: () => Promise<void>,
  ) {}

  /** True while answering from local state. */
  get degraded(): boolean {
    return this.isDegraded;
  }

  /** Counts an operation answered from local state. */
  fellBack(): void {
    this.fallbacks++;
  }

  /** Records a failed command; the first one since Redis last answered degrades the store. */
  fail(error: unknown): void {
    // Commands cut off by close() are no outage.
    if (this.stopped) return;
    this.errors++;
    this.lastError = describe(error);
    if (this.isDegraded) return;
    this.isDegraded = true;
    this.degradations++;
    this.log.warn({ err: error, store: this.name }, `${this.name}: Redis failed (${this.lastError}); answering from local state until it is back`);
    this.timer = setInterval(() => this.probe(), this.intervalMs);
    this.timer.unref();
    this.notify({ degraded: true, error, stats: this.stats() });
  }

  /** Calls `listener` each time the store degrades or recovers. */
  onChange(listener: RedisStoreHealthListener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  private notify(change: RedisStoreHealthChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.log.error({ err: error, store: this.name }, `${this.name}: an onHealthChange listener threw`);
      }
    }
  }

  /** Checks at once whether Redis answers again (called on reconnect). */
  probe(): void {
    if (!this.isDegraded || this.checking) return;
    this.checking = true;
    this.check().then(
      () => {
        this.checking = false;
        this.recover();
      },
      (error: unknown) => {
        this.checking = false;
        this.lastError = describe(error);
      },
    );
  }

  /** Calls `listener` each time the store leaves degraded mode. */
  onRecover(listener: () => void): void {
    this.recoverListeners.add(listener);
  }

  stats(): RedisStoreStats {
    return { degraded: this.isDegraded, degradations: this.degradations, fallbacks: this.fallbacks, errors: this.errors, lastError: this.lastError };
  }

  /** Stops the recovery checks and the failure reports (the store is closing). */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private recover(): void {
    if (!this.isDegraded) return;
    this.isDegraded = false;
    this.clearTimer();
    this.log.info({ store: this.name }, `${this.name}: Redis answers again; shared state resumed`);
    for (const listener of this.recoverListeners) listener();
    this.notify({ degraded: false, stats: this.stats() });
  }
}

/** What every Redis store has besides its store interface. */
export interface RedisStoreControls {
  /** True while the store answers from local state because Redis is unreachable or slow. */
  readonly degraded: boolean;
  /** Counters for dashboards and alerts. */
  stats(): RedisStoreStats;
  /** Calls `listener` each time the store goes to local state or back to Redis (to feed a metric or an alert). */
  onHealthChange(listener: RedisStoreHealthListener): { dispose(): void };
  /** Stops health checks and closes the connections the store opened (a client passed in stays open). */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
