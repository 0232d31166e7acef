import { compose, type BaseContext } from '@shallot/core';
import { retry, type RetryOptions } from '@shallot/retry';
import { mockTransport, virtualClock } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Pure maths of the backoff, driven through the middleware: the upstream always answers 503
// at once (a mock transport) and time is virtual, so each run takes no real time.
async function delaysOf(options: RetryOptions, totalMs?: number): Promise<{ delays: readonly number[]; status: number; elapsed: number }> {
  const clock = virtualClock();
  const transport = mockTransport(() => new Response(null, { status: 503 }));
  const builder = totalMs === undefined ? compose().use(retry(options)) : compose().use(timeout({ totalMs })).use(retry(options));
  const client = builder.build({ transport, clock });
  const started = clock.now();
  const pending = client.exchange('GET', 'http://upstream.test/');
  await clock.runAll(100);
  const { response, context } = await pending;
  await client.close();
  return { delays: context.retry.delaysMs, status: response.status, elapsed: clock.now() - started };
}

const exponential = fc.record({
  initialMs: fc.integer({ min: 1, max: 5_000 }),
  maxMs: fc.integer({ min: 1, max: 60_000 }),
  multiplier: fc.double({ min: 1, max: 4, noNaN: true }),
});

describe('backoff bounds (property)', () => {
  it('no jitter: exactly min(maxMs, initialMs * multiplier ** (n - 1))', async () => {
    await fc.assert(
      fc.asyncProperty(exponential, fc.integer({ min: 2, max: 8 }), async (b, maxAttempts) => {
        const { delays } = await delaysOf({ maxAttempts, backoff: { kind: 'exponential', jitter: 'none', ...b } });
        expect(delays).toHaveLength(maxAttempts - 1);
        delays.forEach((d, i) => expect(d).toBeCloseTo(Math.min(b.maxMs, b.initialMs * b.multiplier ** i), 6));
      }),
      { numRuns: 60 },
    );
  });

  it('full jitter: within [0, min(maxMs, initialMs * multiplier ** (n - 1))]', async () => {
    await fc.assert(
      fc.asyncProperty(exponential, fc.integer({ min: 2, max: 8 }), async (b, maxAttempts) => {
        const { delays, elapsed } = await delaysOf({ maxAttempts, backoff: { kind: 'exponential', jitter: 'full', ...b } });
        expect(delays).toHaveLength(maxAttempts - 1);
        delays.forEach((d, i) => {
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(Math.min(b.maxMs, b.initialMs * b.multiplier ** i));
        });
        expect(elapsed).toBeCloseTo(delays.reduce((a, d) => a + d, 0), 6);
      }),
      { numRuns: 60 },
    );
  });

  it('decorrelated jitter (the default): within [0, maxMs]', async () => {
    await fc.assert(
      fc.asyncProperty(exponential, fc.integer({ min: 2, max: 8 }), async (b, maxAttempts) => {
        const { delays } = await delaysOf({ maxAttempts, backoff: b });
        expect(delays).toHaveLength(maxAttempts - 1);
        for (const d of delays) {
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(b.maxMs);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('constant: every wait is delayMs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 8 }), async (delayMs, maxAttempts) => {
        const { delays } = await delaysOf({ maxAttempts, backoff: { kind: 'constant', delayMs } });
        expect(delays).toEqual(Array.from({ length: maxAttempts - 1 }, () => delayMs));
      }),
      { numRuns: 40 },
    );
  });

  it('custom: whatever the function returns is clamped to [0, 2^31 - 1] and sees attempt and ctx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double(), { minLength: 1, maxLength: 6 }), async (values) => {
        const seen: number[] = [];
        const delay = (attempt: number, ctx: BaseContext) => {
          expect(ctx.request.method).toBe('GET');
          seen.push(attempt);
          return values[attempt - 1] as number;
        };
        const { delays } = await delaysOf({ maxAttempts: values.length + 1, backoff: { kind: 'custom', delay } });
        expect(seen).toEqual(values.map((_, i) => i + 1));
        delays.forEach((d, i) => {
          const v = values[i] as number;
          expect(d).toBe(v > 0 ? Math.min(v, 2_147_483_647) : 0);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('never waits past a total deadline, whatever the backoff', async () => {
    await fc.assert(
      fc.asyncProperty(exponential, fc.constantFrom('none', 'full', 'decorrelated' as const), fc.integer({ min: 50, max: 30_000 }), async (b, jitter, totalMs) => {
        const { delays, status, elapsed } = await delaysOf({ maxAttempts: 10, backoff: { kind: 'exponential', jitter, ...b } }, totalMs);
        expect(status).toBe(503);
        expect(delays.reduce((a, d) => a + d, 0)).toBeLessThan(totalMs);
        expect(elapsed).toBeLessThan(totalMs);
      }),
      { numRuns: 60 },
    );
  });
});
