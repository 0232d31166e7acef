import { compose, NetworkError } from '@shallot/core';
import { mockTransport, virtualClock } from '@shallot/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CircuitBreakerOpenError, circuitBreaker, type CircuitState, isCircuitBreakerOpenError } from '@shallot/circuit-breaker';

type Result = 'ok' | '4xx' | '5xx' | 'network';

type Op =
  | { kind: 'burst'; n: number; result: Result }
  | { kind: 'advance'; ms: number }
  | { kind: 'isolate' }
  | { kind: 'reset' };

interface Config {
  failureThreshold: number;
  halfOpenMaxProbes: number;
  successThreshold: number;
  recoveryTimeoutMs: number;
  backoff: { factor: number; maxMs: number } | undefined;
}

/** The circuit as the documentation describes it, written as plainly as possible. */
class Model {
  state: CircuitState = 'closed';
  failures = 0;
  openUntil = 0;
  reopens = 0;
  successes = 0;

  constructor(private readonly config: Config) {}

  private open(now: number, reopens: number): void {
    const { recoveryTimeoutMs, backoff } = this.config;
    this.state = 'open';
    this.failures = 0;
    this.successes = 0;
    this.reopens = reopens;
    this.openUntil = now + (backoff === undefined ? recoveryTimeoutMs : Math.min(backoff.maxMs, recoveryTimeoutMs * backoff.factor ** reopens));
  }

  private close(): void {
    this.state = 'closed';
    this.failures = 0;
    this.reopens = 0;
    this.successes = 0;
  }

  /** `n` calls arrive together and all end with `result`: how many reach the upstream, and what the others are told. */
  burst(n: number, result: Result, now: number): { passed: number; refusedRetryAfter: number[] } {
    const fails = result === '5xx' || result === 'network';
    if (this.state === 'isolated') return { passed: 0, refusedRetryAfter: Array(n).fill(Infinity) };
    if (this.state === 'open' && now < this.openUntil) return { passed: 0, refusedRetryAfter: Array(n).fill(this.openUntil - now) };
    if (this.state === 'open') {
      this.state = 'half-open';
      this.successes = 0;
    }
    if (this.state === 'closed') {
      if (!fails) this.failures = 0;
      else {
        for (let i = 0; i < n; i++) {
          this.failures++;
          if (this.failures >= this.config.failureThreshold) {
            this.open(now, 0);
            break;
          }
        }
      }
      return { passed: n, refusedRetryAfter: [] };
    }
    const passed = Math.min(n, this.config.halfOpenMaxProbes);
    if (fails) this.open(now, this.reopens + 1);
    else {
      this.successes += passed;
      if (this.successes >= this.config.successThreshold) this.close();
    }
    return { passed, refusedRetryAfter: Array(n - passed).fill(0) };
  }

  isolate(): void {
    this.state = 'isolated';
  }

  reset(): void {
    this.close();
  }

  effective(now: number): CircuitState {
    return this.state === 'open' && now >= this.openUntil ? 'half-open' : this.state;
  }
}

const configArb: fc.Arbitrary<Config> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 4 }),
  halfOpenMaxProbes: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  recoveryTimeoutMs: fc.constantFrom(100, 250),
  backoff: fc.option(fc.record({ factor: fc.constantFrom(1.5, 2), maxMs: fc.constantFrom(400, 1_000) }), { nil: undefined }),
});

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('burst' as const), n: fc.integer({ min: 1, max: 5 }), result: fc.constantFrom<Result>('ok', '4xx', '5xx', 'network') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 600 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('circuit breaker state machine (property)', () => {
  it('behaves like the model under any sequence of bursts, time, isolate and reset', async () => {
    await fc.assert(
      fc.asyncProperty(configArb, fc.array(opArb, { minLength: 1, maxLength: 30 }), async (config, ops) => {
        const clock = virtualClock({ startMs: 1_000_000 });
        let result: Result = 'ok';
        let release: () => void = () => {};
        let gate = Promise.resolve();
        const transport = mockTransport(async () => {
          await gate;
          if (result === 'network') throw new NetworkError('connection reset');
          return new Response(null, { status: result === 'ok' ? 200 : result === '4xx' ? 404 : 503 });
        });
        const { backoff, ...rest } = config;
        const breaker = circuitBreaker({ key: 'global', ...rest, recoveryBackoff: backoff });
        const client = compose().use(breaker).build({ baseUrl: 'http://upstream.test', clock, transport });
        const model = new Model(config);

        for (const op of ops) {
          if (op.kind === 'advance') await clock.advance(op.ms);
          else if (op.kind === 'isolate') {
            await breaker.isolate('global');
            model.isolate();
          } else if (op.kind === 'reset') {
            await breaker.reset('global');
            model.reset();
          } else {
            result = op.result;
            gate = new Promise<void>((resolve) => (release = resolve));
            const before = transport.calls.length;
            const refused: CircuitBreakerOpenError[] = [];
            const others: unknown[] = [];
            let settled = 0;
            const calls = Array.from({ length: op.n }, () =>
              client.get('/').then(
                () => settled++,
                (error: unknown) => {
                  settled++;
                  if (isCircuitBreakerOpenError(error)) refused.push(error);
                  else others.push(error);
                },
              ),
            );
            // Every call is either at the upstream or refused before any answer comes back.
            for (let i = 0; i < 100 && transport.calls.length - before + refused.length < op.n; i++) await settle();
            release();
            await Promise.all(calls);
            const expected = model.burst(op.n, op.result, clock.now());
            expect(transport.calls.length - before).toBe(expected.passed);
            expect(refused.map((e) => e.retryAfterMs)).toEqual(expected.refusedRetryAfter);
            expect(others.length).toBe(op.result === 'network' ? expected.passed : 0);
            expect(settled).toBe(op.n);
          }
          expect(breaker.state('global')).toBe(model.effective(clock.now()));
        }
        await client.close();
      }),
      { numRuns: 150 },
    );
  });
});
