import { type BaseContext, parseOptions } from '@shallot/core';
import { type ResolvedRetryBudgetOptions, type RetryBudgetOptions, retryBudgetOptionsSchema } from './options.js';

const buckets = 10;

/** What a budget holds for one key right now. */
export interface RetryBudgetSnapshot {
  /** First attempts counted in the last `ttlMs`. */
  readonly requests: number;
  /** Retries charged to `ratio` in the last `ttlMs`. */
  readonly retries: number;
  /** Retries the `minPerSecond` reserve can pay for now. */
  readonly reserve: number;
}

/**
 * Finagle's retry budget: retries may be at most `ratio` of the requests seen in the last
 * `ttlMs`, plus a reserve of `minPerSecond` retries refilled every second, so a failing
 * upstream gets a trickle of retries rather than a storm. Pass one to `retry({ budget })`;
 * share it between clients to share the budget.
 */
export interface RetryBudget {
  /** The resolved options. */
  readonly options: ResolvedRetryBudgetOptions;
  /** The budget key of a request (its host, `global`, or your function's answer). */
  keyOf(ctx: BaseContext): string;
  /** Counts a request (its first attempt) at time `now`. */
  deposit(key: string, now: number): void;
  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(key: string, now: number): boolean;
  /** The state of one key, for tests and dashboards. */
  snapshot(key: string, now: number): RetryBudgetSnapshot;
}

class Account {
  readonly requests = new Float64Array(buckets);
  readonly retries = new Float64Array(buckets);
  bucket = -1;
  reserve: number;
  refilledAt: number;

  constructor(reserve: number, now: number) {
    this.reserve = reserve;
    this.refilledAt = now;
  }

  // Clears the buckets that fell out of the window since the last call.
  roll(now: number, bucketMs: number): void {
    const current = Math.floor(now / bucketMs);
    if (current === this.bucket) return;
    const stale = this.bucket < 0 ? buckets : Math.min(buckets, current - this.bucket);
    for (let i = 1; i <= stale; i++) {
      const index = (((this.bucket + i) % buckets) + buckets) % buckets;
      this.requests[index] = 0;
      this.retries[index] = 0;
    }
    this.bucket = current;
  }

  sum(values: Float64Array): number {
    let total = 0;
    for (const v of values) total += v;
    return total;
  }

  refill(now: number, perMs: number, capacity: number): void {
    if (now > this.refilledAt) {
      this.reserve = Math.min(capacity, this.reserve + (now - this.refilledAt) * perMs);
      this.refilledAt = now;
    }
  }
}

/**
 * Makes a retry budget (Finagle's `RetryBudget`): by default at most 20 % of requests plus 10
 * per second are retried, per host. When it is spent, failures are returned as they are,
 * without retrying, and `ctx.retry.budgetExhausted` is set.
 *
 * @example
 * const budget = retryBudget({ ratio: 0.1, minPerSecond: 5 });
 * const client = compose().use(retry({ budget })).build();
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const resolved = parseOptions(retryBudgetOptionsSchema, options, 'retryBudget');
  const { ratio, minPerSecond, ttlMs, key, maxKeys } = resolved;
  const bucketMs = ttlMs / buckets;
  const perMs = minPerSecond / 1000;
  const accounts = new Map<string, Account>();

  const account = (name: string, now: number): Account => {
    let found = accounts.get(name);
    if (found === undefined) {
      if (accounts.size >= maxKeys) accounts.delete(accounts.keys().next().value as string);
      found = new Account(minPerSecond, now);
      accounts.set(name, found);
    }
    found.roll(now, bucketMs);
    return found;
  };

  const keyOf =
    key === 'host' ? (ctx: BaseContext) => ctx.request.url.host : key === 'global' ? () => 'global' : (ctx: BaseContext) => String(key(ctx));

  return {
    options: resolved,
    keyOf,
    deposit(name, now) {
      const a = account(name, now);
      a.requests[((a.bucket % buckets) + buckets) % buckets]! += 1;
    },
    tryWithdraw(name, now) {
      const a = account(name, now);
      // A tiny epsilon so 0.1 * 10 requests pays for one retry despite floating point.
      if (a.sum(a.retries) + 1 <= ratio * a.sum(a.requests) + 1e-9) {
        a.retries[((a.bucket % buckets) + buckets) % buckets]! += 1;
        return true;
      }
      a.refill(now, perMs, minPerSecond);
      if (a.reserve >= 1) {
        a.reserve -= 1;
        return true;
      }
      return false;
    },
    snapshot(name, now) {
      const a = account(name, now);
      a.refill(now, perMs, minPerSecond);
      return { requests: a.sum(a.requests), retries: a.sum(a.retries), reserve: Math.floor(a.reserve) };
    },
  };
}
