const seconds = /^\s*(\d+(?:\.\d+)?)\s*$/;

/**
 * The wait a `Retry-After` header asks for, in ms from `now`: delay-seconds or an HTTP date
 * (RFC 9110 §10.2.3). A date in the past is 0; an unreadable value is `undefined`.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const match = seconds.exec(value);
  if (match !== null) return Math.ceil(Number(match[1]) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil(date - now));
}
