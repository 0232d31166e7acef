import { LRUCache } from 'lru-cache';
import type { GcraParams } from './gcra.js';
import type { ResolvedRateLimitOptions } from './options.js';
import { readUpstreamLimit } from './rate-limit-headers.js';

type AdaptiveOptions = NonNullable<ResolvedRateLimitOptions['adaptive']>;

interface KeyState {
  /** The current limit per interval. */
  limit: number;
  /** When it was last decreased (clock ms). */
  decreasedAt: number;
}

/** What an observed outcome asks the limiter to do. */
export interface Adjustment {
  /** Hold the bucket empty until then (clock ms). */
  readonly pauseUntil?: number;
  /** The limit was cut: the new one. */
  readonly decreasedTo?: number;
}

/** The bucket shape for a key, and (when adaptive) the AIMD controller that moves it. */
export interface Limits {
  /** The bucket shape to use for `key` now. */
  params(key: string): GcraParams;
  /** The current limit per interval for `key`. */
  current(key: string): number;
  /** Feeds a response back. `sentAt` is when its request was let through. */
  observeResponse(key: string, response: Response, sentAt: number, now: number): Adjustment;
  /** Feeds a failure back (only timeouts say anything about congestion). */
  observeTimeout(key: string, sentAt: number, now: number): Adjustment;
}

/**
 * The limiter's bucket shape, fixed or adaptive. Adaptive is AIMD, as TCP congestion control:
 * a congestion signal (a 429, or a response slower than `latencyTargetMs`) multiplies the limit
 * by `decreaseFactor`; each successful response adds `increaseBy / limit`, so the limit grows by
 * `increaseBy` per interval's worth of successes, up to `maxLimit`. Responses to requests let
 * through before the last cut do not cut again: a burst of 429s from one overload halves once.
 * The burst shrinks in proportion to the limit.
 */
export function limits(options: ResolvedRateLimitOptions): Limits {
  const baseLimit = options.limit;
  const baseBurst = options.burst ?? Math.max(1, Math.floor(options.limit));
  const shape = (limit: number): GcraParams => ({
    emissionIntervalMs: options.intervalMs / limit,
    burst: Math.max(1, Math.floor((baseBurst * limit) / baseLimit)),
  });
  const fixed = shape(baseLimit);
  const adaptive: AdaptiveOptions | undefined = options.adaptive;
  if (adaptive === undefined) {
    return {
      params: () => fixed,
      current: () => baseLimit,
      observeResponse: () => ({}),
      observeTimeout: () => ({}),
    };
  }
  const minLimit = adaptive.minLimit ?? Math.min(1, baseLimit);
  const maxLimit = adaptive.maxLimit ?? baseLimit;
  const congested = new Set(adaptive.statuses);
  const states = new LRUCache<string, KeyState>({ max: options.maxKeys });
  const stateOf = (key: string): KeyState => {
    let state = states.get(key);
    if (state === undefined) {
      state = { limit: Math.min(maxLimit, Math.max(minLimit, baseLimit)), decreasedAt: -Infinity };
      states.set(key, state);
    }
    return state;
  };
  const decrease = (state: KeyState, sentAt: number, now: number): number | undefined => {
    if (sentAt < state.decreasedAt) return undefined;
    const next = Math.max(minLimit, state.limit * adaptive.decreaseFactor);
    state.decreasedAt = now;
    if (next === state.limit) return undefined;
    state.limit = next;
    return next;
  };

  return {
    params: (key) => {
      const state = states.get(key);
      return state === undefined || state.limit === baseLimit ? fixed : shape(state.limit);
    },
    current: (key) => states.peek(key)?.limit ?? Math.min(maxLimit, Math.max(minLimit, baseLimit)),
    observeResponse(key, response, sentAt, now) {
      const state = stateOf(key);
      const signal = adaptive.respectHeaders ? readUpstreamLimit(response.headers, now) : {};
      let pauseUntil: number | undefined;
      if (signal.remaining === 0 && signal.resetAt !== undefined) pauseUntil = signal.resetAt;
      const slow = adaptive.latencyTargetMs !== undefined && now - sentAt > adaptive.latencyTargetMs;
      if (congested.has(response.status) || slow) {
        if (congested.has(response.status) && signal.retryAt !== undefined) pauseUntil = Math.max(pauseUntil ?? 0, signal.retryAt);
        const decreasedTo = decrease(state, sentAt, now);
        return { ...(pauseUntil === undefined ? {} : { pauseUntil }), ...(decreasedTo === undefined ? {} : { decreasedTo }) };
      }
      if (response.status < 400 && state.limit < maxLimit) state.limit = Math.min(maxLimit, state.limit + adaptive.increaseBy / state.limit);
      return pauseUntil === undefined ? {} : { pauseUntil };
    },
    observeTimeout(key, sentAt, now) {
      if (adaptive.latencyTargetMs === undefined) return {};
      const decreasedTo = decrease(stateOf(key), sentAt, now);
      return decreasedTo === undefined ? {} : { decreasedTo };
    },
  };
}
