import { CircuitState as CockatielState, ConsecutiveBreaker, type IBreaker, SamplingBreaker } from 'cockatiel';
import type { ResolvedCircuitBreakerOptions } from './options.js';

/**
 * Counts failures while the circuit is closed and says when to open it. The counting itself
 * is cockatiel's (`ConsecutiveBreaker`, `SamplingBreaker`); this adapter keeps cockatiel's
 * breaker state as a plain value in the circuit record, so the record can be stored, shared
 * and snapshotted. Every call works on a copy: the record passed in is never changed.
 */
export interface FailureCounter {
  /** The state of a circuit that has seen nothing. */
  initial(): unknown;
  /** True when `state` has the shape this counter keeps (hydrated records may not). */
  accepts(state: unknown): boolean;
  /** Records a success; returns the same value when nothing changed. */
  success(state: unknown): unknown;
  /** Records a failure; `open` says whether the circuit should open. */
  failure(state: unknown): { state: unknown; open: boolean };
}

function consecutiveCounter(threshold: number): FailureCounter {
  const run = (state: unknown, step: (breaker: IBreaker) => boolean | void): { state: unknown; result: boolean | void } => {
    const breaker = new ConsecutiveBreaker(threshold);
    breaker.state = state as number;
    const result = step(breaker);
    return { state: breaker.state, result };
  };
  return {
    initial: () => 0,
    accepts: (state) => typeof state === 'number' && Number.isInteger(state) && state >= 0,
    // A success on a clean count changes nothing: skip the allocation on the hot path.
    success: (state) => (state === 0 ? state : run(state, (b) => b.success(CockatielState.Closed)).state),
    failure: (state) => {
      const { state: next, result } = run(state, (b) => b.failure(CockatielState.Closed));
      return { state: next, open: result === true };
    },
  };
}

interface SamplingWindow {
  startedAt: number;
  failures: number;
  successes: number;
}

interface SamplingState {
  windows: SamplingWindow[];
  currentWindow: number;
  currentFailures: number;
  currentSuccesses: number;
}

function samplingCounter(threshold: number, durationMs: number, minimumRps: number | undefined): FailureCounter {
  const make = (): SamplingBreaker => new SamplingBreaker({ threshold, duration: durationMs, ...(minimumRps === undefined ? {} : { minimumRps }) });
  const windowCount = (make().state as SamplingState).windows.length;
  // cockatiel's SamplingBreaker mutates its windows in place; hand it a deep copy so the
  // stored record stays immutable (a store may call an update function more than once).
  const copy = (state: SamplingState): SamplingState => ({ ...state, windows: state.windows.map((w) => ({ ...w })) });
  const run = (state: unknown, step: (breaker: SamplingBreaker) => boolean | void): { state: unknown; result: boolean | void } => {
    const breaker = make();
    breaker.state = copy(state as SamplingState);
    const result = step(breaker);
    return { state: copy(breaker.state as SamplingState), result };
  };
  return {
    initial: () => copy(make().state as SamplingState),
    accepts: (state) => {
      if (typeof state !== 'object' || state === null) return false;
      const s = state as Partial<SamplingState>;
      return (
        Array.isArray(s.windows) &&
        s.windows.length === windowCount &&
        s.windows.every((w) => typeof w === 'object' && w !== null && typeof w.startedAt === 'number' && typeof w.failures === 'number' && typeof w.successes === 'number') &&
        typeof s.currentWindow === 'number' &&
        typeof s.currentFailures === 'number' &&
        typeof s.currentSuccesses === 'number'
      );
    },
    success: (state) => run(state, (b) => b.success(CockatielState.Closed)).state,
    failure: (state) => {
      const { state: next, result } = run(state, (b) => b.failure(CockatielState.Closed));
      return { state: next, open: result === true };
    },
  };
}

/** The failure counter the options ask for. */
export function failureCounter(options: ResolvedCircuitBreakerOptions): FailureCounter {
  if (options.policy === 'sampling') {
    return samplingCounter(options.failureRateThreshold ?? 0.5, options.samplingDurationMs ?? 10_000, options.minimumRps);
  }
  return consecutiveCounter(options.failureThreshold);
}
