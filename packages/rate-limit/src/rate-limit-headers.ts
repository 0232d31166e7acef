/** What a response said about the upstream's own limit. */
export interface UpstreamLimitSignal {
  /** Requests left in the upstream's current window, when it said. */
  readonly remaining?: number;
  /** When the upstream's window resets (clock ms), when it said. */
  readonly resetAt?: number;
  /** When the upstream asked to be called again (`Retry-After`, clock ms). */
  readonly retryAt?: number;
}

function nonNegative(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * `RateLimit-Reset` is delta-seconds (IETF draft); `X-RateLimit-Reset` is delta-seconds on some
 * APIs and a Unix time on others (GitHub: seconds; a few: milliseconds): tell them apart by size.
 */
function resetAt(value: number, now: number, wallNow: number): number {
  if (value >= 1e12) return now + Math.max(0, value - wallNow);
  if (value >= 1e9) return now + Math.max(0, value * 1000 - wallNow);
  return now + value * 1000;
}

/** The combined `RateLimit` header: draft 7 `limit=10, remaining=0, reset=30`, or draft 8+ `"default";r=0;t=30`. */
function combined(value: string | null): { remaining?: number; reset?: number } {
  if (value === null) return {};
  const remaining = /(?:^|[;,\s])(?:remaining|r)=(\d+)/.exec(value)?.[1];
  const reset = /(?:^|[;,\s])(?:reset|t)=(\d+)/.exec(value)?.[1];
  return {
    ...(remaining === undefined ? {} : { remaining: Number(remaining) }),
    ...(reset === undefined ? {} : { reset: Number(reset) }),
  };
}

function retryAfter(value: string | null, now: number, wallNow: number): number | undefined {
  if (value === null) return undefined;
  const seconds = nonNegative(value);
  if (seconds !== undefined) return now + seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : now + Math.max(0, date - wallNow);
}

/**
 * Reads `RateLimit-Remaining`/`RateLimit-Reset`, `X-RateLimit-Remaining`/`X-RateLimit-Reset`,
 * the combined `RateLimit` header and `Retry-After`. Times come back on the caller's clock
 * (`now`); absolute dates in headers are read against the wall clock.
 */
export function readUpstreamLimit(headers: Headers, now: number, wallNow = Date.now()): UpstreamLimitSignal {
  const merged = combined(headers.get('ratelimit'));
  const remaining = nonNegative(headers.get('ratelimit-remaining')) ?? nonNegative(headers.get('x-ratelimit-remaining')) ?? merged.remaining;
  const reset = nonNegative(headers.get('ratelimit-reset')) ?? merged.reset;
  const xReset = nonNegative(headers.get('x-ratelimit-reset'));
  const at = reset !== undefined ? now + reset * 1000 : xReset !== undefined ? resetAt(xReset, now, wallNow) : undefined;
  const retryAt = retryAfter(headers.get('retry-after'), now, wallNow);
  return {
    ...(remaining === undefined ? {} : { remaining }),
    ...(at === undefined ? {} : { resetAt: at }),
    ...(retryAt === undefined ? {} : { retryAt }),
  };
}
