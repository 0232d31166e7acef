import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memoryRateLimitStore } from '@shallot/rate-limit';

/** A token bucket in whole milliseconds of credit: refills 1 ms per ms, a token costs T, holds B tokens. */
class TokenBucket {
  private credit: number;
  private last: number;

  constructor(
    private readonly t: number,
    private readonly b: number,
    start: number,
  ) {
    this.credit = t * b;
    this.last = start;
  }

  take(now: number): boolean {
    this.credit = Math.min(this.t * this.b, this.credit + (now - this.last));
    this.last = now;
    if (this.credit < this.t) return false;
    this.credit -= this.t;
    return true;
  }
}

const bucketArb = fc.record({ t: fc.integer({ min: 1, max: 50 }), b: fc.integer({ min: 1, max: 6 }) });
/** Arrival times: non-decreasing offsets, often several at the same instant. */
const arrivalsArb = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 120 })), { minLength: 1, maxLength: 120 });

describe('GCRA (memoryRateLimitStore)', () => {
  it('takes exactly what a token bucket of the same shape allows (reject mode)', () => {
    fc.assert(
      fc.property(bucketArb, arrivalsArb, ({ t, b }, gaps) => {
        const store = memoryRateLimitStore({ maxKeys: 8 });
        const model = new TokenBucket(t, b, 0);
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const decision = store.take('k', { now, emissionIntervalMs: t, burst: b, maxWaitMs: 0 });
          if (decision instanceof Promise) throw new Error('the memory store is synchronous');
          const allowed = model.take(now);
          if (decision.allowed !== allowed) return false;
          // A refused caller is told to come back within one emission interval.
          if (!decision.allowed && !(decision.retryAfterMs > 0 && decision.retryAfterMs <= t)) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('gives a refused caller a retryAfterMs at which it is allowed, and not one ms sooner', () => {
    fc.assert(
      fc.property(bucketArb, arrivalsArb, ({ t, b }, gaps) => {
        const params = { emissionIntervalMs: t, burst: b };
        const store = memoryRateLimitStore({ maxKeys: 8 });
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const decision = store.take('k', { now, ...params, maxWaitMs: 0 });
          if (decision instanceof Promise || decision.allowed) continue;
          const early = memoryRateLimitStore({ maxKeys: 8 });
          const replay = memoryRateLimitStore({ maxKeys: 8 });
          // Rebuild the same bucket twice, then ask just before and exactly at the promised time.
          let at = 0;
          for (const g of gaps) {
            at += g;
            if (at > now) break;
            void early.take('k', { now: at, ...params, maxWaitMs: 0 });
            void replay.take('k', { now: at, ...params, maxWaitMs: 0 });
          }
          const before = early.take('k', { now: now + decision.retryAfterMs - 1, ...params, maxWaitMs: 0 }) as { allowed: boolean };
          const onTime = replay.take('k', { now: now + decision.retryAfterMs, ...params, maxWaitMs: 0 }) as { allowed: boolean };
          expect(before.allowed).toBe(false);
          expect(onTime.allowed).toBe(true);
          return;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('schedules waiting callers first come, first served and never above the bucket in any window (wait mode)', () => {
    fc.assert(
      fc.property(bucketArb, arrivalsArb, ({ t, b }, gaps) => {
        const store = memoryRateLimitStore({ maxKeys: 8 });
        const slots: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const decision = store.take('k', { now, emissionIntervalMs: t, burst: b, maxWaitMs: Infinity });
          if (decision instanceof Promise) throw new Error('the memory store is synchronous');
          if (!decision.allowed) return false;
          slots.push(now + decision.waitMs);
        }
        for (let i = 1; i < slots.length; i++) if (slots[i]! < slots[i - 1]!) return false;
        for (const from of slots) {
          for (const windowMs of [1, t, 3 * t + 1, 10 * t]) {
            const inWindow = slots.filter((s) => s >= from && s < from + windowMs).length;
            if (inWindow > b + Math.ceil(windowMs / t) - 1) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('keeps buckets of different keys apart', () => {
    fc.assert(
      fc.property(bucketArb, fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 60 }), ({ t, b }, keys) => {
        const shared = memoryRateLimitStore({ maxKeys: 8 });
        const separate = new Map(['a', 'b', 'c'].map((k) => [k, memoryRateLimitStore({ maxKeys: 8 })]));
        for (const key of keys) {
          const request = { now: 0, emissionIntervalMs: t, burst: b, maxWaitMs: 0 };
          expect(shared.take(key, request)).toEqual(separate.get(key)!.take(key, request));
        }
      }),
    );
  });
});
