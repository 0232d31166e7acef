import { parseOptions } from '@shallot/core';
import { memoryRateLimitStore, type RateLimitDecision, type RateLimitStore, type RateLimitStoreRequest } from '@shallot/rate-limit';
import { RedisConnection } from './connection.js';
import { gcraScript } from './gcra-script.js';
import type { RedisStoreControls } from './health.js';
import { type RedisRateLimitStoreOptions, redisRateLimitStoreOptionsSchema } from './options.js';

/** A {@link RateLimitStore} in Redis, with its health and `close()`. */
export interface RedisRateLimitStore extends RateLimitStore, RedisStoreControls {}

function decision(reply: unknown): RateLimitDecision {
  const [allowed, waitMs, retryAfterMs, remaining, resetMs] = reply as [number, string, string, number, string];
  return { allowed: allowed === 1, waitMs: Number(waitMs), retryAfterMs: Number(retryAfterMs), remaining: Number(remaining), resetMs: Number(resetMs) };
}

/**
 * Token buckets shared by every process that uses the same Redis and `keyPrefix`: the GCRA of
 * `rateLimit()` runs as one Lua script per request (EVALSHA, one round trip, atomic per key),
 * in Redis server time, so the limit holds exactly across processes whatever their clocks say.
 * A bucket is one key holding one number, which expires by itself once the bucket is full again.
 *
 * When Redis fails or is slower than `timeoutMs`, the store answers from a bucket in this
 * process (running at `limit × fallbackShare`), logs one warning, and goes back to Redis as
 * soon as it answers again. A request never fails because Redis did.
 *
 * @example
 * const store = redisRateLimitStore({ url: 'redis://127.0.0.1:6379', keyPrefix: 'billing:' });
 * compose().use(rateLimit({ limit: 100, intervalMs: 60_000, store }))
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions): RedisRateLimitStore {
  const resolved = parseOptions(redisRateLimitStoreOptionsSchema, options, 'redisRateLimitStore');
  const connection = new RedisConnection(resolved, 'redisRateLimitStore');
  const { health } = connection;
  const share = resolved.fallbackShare;
  const makeLocal = (): RateLimitStore => memoryRateLimitStore({ maxKeys: resolved.maxKeys });
  let local = makeLocal();
  // Buckets filled during an outage say nothing about the next one.
  health.onRecover(() => (local = makeLocal()));
  const localShape = <R extends RateLimitStoreRequest>(request: R): R =>
    share === 1 ? request : { ...request, emissionIntervalMs: request.emissionIntervalMs / share, burst: Math.max(1, Math.floor(request.burst * share)) };

  const bucket = (key: string): string[] => [connection.key('rl', key)];
  /** A command failed: degrade, and answer this call locally. */
  const failed = <T>(error: unknown, onLocal: () => T): T => {
    health.fail(error);
    health.fellBack();
    return onLocal();
  };
  const close = (): Promise<void> => connection.close();
  return {
    take(key, request) {
      const onLocal = (): RateLimitDecision => local.take(key, localShape(request)) as RateLimitDecision;
      if (!connection.usable()) {
        health.fellBack();
        return onLocal();
      }
      const maxWaitMs = request.maxWaitMs === Infinity ? -1 : request.maxWaitMs;
      return connection
        .eval(gcraScript, bucket(key), ['take', request.emissionIntervalMs, request.burst, maxWaitMs])
        .then(decision, (error: unknown) => failed(error, onLocal));
    },
    refund(key, request) {
      const onLocal = (): void => void local.refund(key, localShape(request));
      if (!connection.usable()) return onLocal();
      return connection.eval(gcraScript, bucket(key), ['refund', request.emissionIntervalMs, request.burst, 0]).then(
        () => undefined,
        (error: unknown) => failed(error, onLocal),
      );
    },
    pauseUntil(key, request) {
      const onLocal = (): void => void local.pauseUntil(key, localShape(request));
      if (!connection.usable()) return onLocal();
      // Redis keeps its own time: the pause travels as a duration.
      const holdMs = request.untilMs - request.now;
      return connection.eval(gcraScript, bucket(key), ['pause', request.emissionIntervalMs, request.burst, holdMs]).then(
        () => undefined,
        (error: unknown) => failed(error, onLocal),
      );
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
