/*
 * The generic cell rate algorithm (GCRA), the token bucket written as one number per key: the
 * theoretical arrival time `tat` of the next request at the sustained rate. With emission
 * interval T = intervalMs / limit and burst B, a request at `now` conforms when
 * max(tat, now) - (B - 1) * T <= now, and taking it moves tat to max(tat, now) + T. A bucket
 * whose tat is at or before `now` is full.
 *
 * A request that does not conform now can reserve its future slot instead (wait mode): it moves
 * tat the same way and sleeps until the slot. Reservations are handed out in call order, so
 * waiting is first come, first served, and the schedule never exceeds the bucket.
 *
 * These functions are pure, so a shared store can run the same arithmetic atomically (a Redis
 * store runs it in a Lua script).
 */

/** The shape of a bucket. */
export interface GcraParams {
  /** Milliseconds between tokens at the sustained rate (`intervalMs / limit`). */
  readonly emissionIntervalMs: number;
  /** Tokens a full bucket holds. */
  readonly burst: number;
}

/** The outcome of asking for a token. */
export interface GcraDecision {
  /** True when a token was taken (now, or reserved `waitMs` ahead). */
  readonly allowed: boolean;
  /** How long the caller must wait for its reserved token (0: go now). */
  readonly waitMs: number;
  /** When refused: milliseconds until a token could be had without waiting. */
  readonly retryAfterMs: number;
  /** Tokens left in the bucket after this decision. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
}

const tolerance = (p: GcraParams): number => (p.burst - 1) * p.emissionIntervalMs;

function remainingAt(tat: number, now: number, p: GcraParams): number {
  return Math.max(0, Math.floor((now + tolerance(p) - tat) / p.emissionIntervalMs + 1e-9) + 1);
}

/**
 * Asks for one token at `now`, accepting a wait of up to `maxWaitMs` (0: only a token free now).
 * Returns the decision and the new tat (unchanged when refused).
 */
export function gcraTake(tat: number | undefined, now: number, p: GcraParams, maxWaitMs: number): { tat: number | undefined; decision: GcraDecision } {
  const start = Math.max(tat ?? now, now);
  const waitMs = Math.max(0, start - tolerance(p) - now);
  if (waitMs > maxWaitMs) {
    return { tat, decision: { allowed: false, waitMs: 0, retryAfterMs: waitMs, remaining: 0, resetMs: Math.max(0, start - now) } };
  }
  const next = start + p.emissionIntervalMs;
  return {
    tat: next,
    decision: { allowed: true, waitMs, retryAfterMs: 0, remaining: waitMs > 0 ? 0 : remainingAt(next, now, p), resetMs: next - now },
  };
}

/** Gives one token back (a reservation abandoned, or a request that never reached the network). */
export function gcraRefund(tat: number | undefined, now: number, p: GcraParams): number | undefined {
  if (tat === undefined || tat <= now) return tat;
  return Math.max(now, tat - p.emissionIntervalMs);
}

/** Holds the bucket empty until `untilMs` (the server said its window is spent). */
export function gcraPauseUntil(tat: number | undefined, now: number, p: GcraParams, untilMs: number): number | undefined {
  if (untilMs <= now) return tat;
  // The first token after the pause conforms at tat - tolerance = untilMs.
  return Math.max(tat ?? now, untilMs + tolerance(p));
}
