import { type BaseContext, type Clock, defineMiddleware, HttpError, type Logger, type Middleware, parseOptions, realClock, type RequestTarget, silentLogger } from '@shallot/core';
import { breakerKey } from './breaker-key.js';
import { CircuitBreakerOpenError } from './errors.js';
import { failureCounter } from './failure-counter.js';
import { classify, defaultIsFailure } from './failure-classification.js';
import { type CircuitBreakerOptions, circuitBreakerOptionsSchema, type CircuitOutcome } from './options.js';
import { type CircuitBreakerSnapshot, parseSnapshot } from './snapshot.js';
import {
  type Admission,
  admit,
  type CircuitBreakerRecord,
  type CircuitState,
  effectiveState,
  initialRecord,
  isolate,
  type MachineConfig,
  type Permit,
  reset,
  settle,
} from './state-machine.js';
import type { CircuitStateChange, CircuitStateListener } from './state-change.js';
import { type CircuitBreakerStore, memoryCircuitBreakerStore } from './store.js';

/** What `circuitBreaker()` puts on the context as `ctx.circuitBreaker`. */
export interface CircuitBreakerContext {
  /** The circuit this request went through. */
  readonly key: string;
  /**
   * The circuit's state as the request was let in (`'half-open'` for a probe) or refused, then,
   * once its outcome was counted, the state after it. A store that answers asynchronously (a
   * shared one) counts the outcome in the background: the state stays the one let in with.
   */
  readonly state: CircuitState;
}

/** Operator controls of a circuit breaker, attached to the middleware `circuitBreaker()` returns. */
export interface CircuitBreakerControls {
  /** The state a request to `key` would meet now (`'closed'` for a key never seen). */
  state(key: string): CircuitState;
  /** Holds the circuit of `key` open, refusing every request, until `reset(key)`. */
  isolate(key: string): Promise<void>;
  /** Closes the circuit of `key` and forgets its failures. */
  reset(key: string): Promise<void>;
  /** Every circuit this process knows, as JSON-safe data. */
  snapshot(): CircuitBreakerSnapshot;
  /** Restores circuits from a snapshot (from this process or another); probes in flight are not carried over. */
  hydrate(snapshot: CircuitBreakerSnapshot): Promise<void>;
  /** Calls `listener` on every state change. */
  onStateChange(listener: CircuitStateListener): { dispose(): void };
}

/** The middleware `circuitBreaker()` returns: a layer that provides `ctx.circuitBreaker`, with operator controls attached. */
export interface CircuitBreakerMiddleware extends Middleware<{}, { circuitBreaker: CircuitBreakerContext }>, CircuitBreakerControls {}

interface Change {
  from: CircuitState;
  to: CircuitState;
}

interface Transition<T> {
  change: Change | undefined;
  result: T | undefined;
  state: CircuitState;
}

const isPromiseLike = <T>(value: T | PromiseLike<T>): value is PromiseLike<T> =>
  typeof value === 'object' && value !== null && typeof (value as PromiseLike<T>).then === 'function';

/**
 * One circuit breaker per key (`host:port` by default): after `failureThreshold` failures in a
 * row (or a failure rate, with `policy: 'sampling'`) the circuit opens and requests fail fast
 * with `CircuitBreakerOpenError`, without touching the network, until `recoveryTimeoutMs` has
 * passed; then up to `halfOpenMaxProbes` probes test the upstream and `successThreshold`
 * successes close it again. Network errors, timeouts and 5xx responses are failures; 4xx are not.
 *
 * Place it inside `retry()` so each attempt counts, and inside `rateLimit()`: a request the open
 * circuit refuses never reaches the transport, and the rate limiter gives its token back.
 *
 * @example
 * const breaker = circuitBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000 });
 * const client = compose().use(retry()).use(breaker).build();
 * breaker.onStateChange(({ key, from, to }) => log.warn(`${key}: ${from} -> ${to}`));
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerMiddleware {
  const resolved = parseOptions(circuitBreakerOptionsSchema, options, 'circuitBreaker');
  const backoff = resolved.recoveryBackoff;
  const maxRecoveryMs = backoff?.maxMs ?? resolved.recoveryTimeoutMs * 10;
  const config: MachineConfig = {
    counter: failureCounter(resolved),
    halfOpenMaxProbes: resolved.halfOpenMaxProbes,
    successThreshold: resolved.successThreshold,
    probeLeaseMs: resolved.probeLeaseMs,
    recoveryMs: (reopens) =>
      backoff === undefined ? resolved.recoveryTimeoutMs : Math.min(maxRecoveryMs, resolved.recoveryTimeoutMs * backoff.factor ** reopens),
  };
  const store: CircuitBreakerStore = resolved.store ?? memoryCircuitBreakerStore({ maxKeys: resolved.maxKeys });
  const keyOf = breakerKey(resolved.key);
  const isFailure = resolved.isFailure ?? defaultIsFailure;
  const listeners = new Set<CircuitStateListener>();
  if (resolved.onStateChange !== undefined) listeners.add(resolved.onStateChange);
  // The operator methods have no request to read a clock or logger from: they use the last ones seen.
  let clock: Clock = realClock;
  let log: Logger = silentLogger;

  const emit = (key: string, change: Change | undefined, cause?: CircuitOutcome, request?: RequestTarget): void => {
    if (change === undefined || change.from === change.to) return;
    const event: CircuitStateChange = {
      key,
      ...change,
      ...(cause?.error !== undefined ? { error: cause.error } : {}),
      ...(cause?.response !== undefined ? { error: new HttpError(cause.response, { request }), status: cause.response.status } : {}),
    };
    const level = change.to === 'open' || change.to === 'isolated' ? 'warn' : 'info';
    log[level]({ circuit: key, from: change.from, to: change.to }, `circuitBreaker: circuit '${key}' ${change.from} -> ${change.to}`);
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        log.error({ err: error }, 'circuitBreaker: an onStateChange listener threw');
      }
    }
  };

  // Changes made by other processes sharing the store reach this breaker's listeners too.
  store.onChange?.(({ key, previous, record }) => emit(key, { from: previous?.state ?? 'closed', to: record.state }));

  /**
   * Runs a step of the state machine through the store. The store may apply it more than once
   * (optimistic concurrency): the change and result reported are those of the application stored.
   * A synchronous store (the memory one) gets a synchronous answer: no promise on the hot path.
   */
  const transition = <T = undefined>(
    key: string,
    step: (record: CircuitBreakerRecord) => { record: CircuitBreakerRecord; result?: T },
  ): Transition<T> | Promise<Transition<T>> => {
    let last: Transition<T> = { change: undefined, result: undefined, state: 'closed' };
    const stored = store.update(key, (current) => {
      const before = current ?? initialRecord(config);
      const { record: after, result } = step(before);
      last = { change: after.state === before.state ? undefined : { from: before.state, to: after.state }, result, state: after.state };
      return after;
    });
    return isPromiseLike(stored) ? Promise.resolve(stored).then(() => last) : last;
  };

  const count = (ctx: BaseContext, key: string, permit: Permit, admittedAs: CircuitState, outcome: CircuitOutcome): CircuitState | Promise<CircuitState> => {
    const verdict = classify(ctx, outcome, isFailure);
    const failed = (error: unknown): CircuitState => {
      ctx.log.warn({ err: error, circuit: key }, 'circuitBreaker: the store failed; this outcome was not counted');
      return admittedAs;
    };
    const done = ({ change, state }: Transition<undefined>): CircuitState => {
      emit(key, change, outcome, ctx.request);
      return state;
    };
    try {
      const pending = transition(key, (current) => ({ record: settle(current, permit, verdict, ctx.clock.now(), config) }));
      return isPromiseLike(pending) ? Promise.resolve(pending).then(done, failed) : done(pending);
    } catch (error) {
      return failed(error);
    }
  };

  const handler = defineMiddleware<{}, { circuitBreaker: CircuitBreakerContext }>(
    async function circuitBreaker(ctx, next) {
      clock = ctx.clock;
      log = ctx.log;
      const key = keyOf(ctx);
      const now = ctx.clock.now();
      let admission: Admission | undefined;
      try {
        const pending = transition<Admission>(key, (current) => {
          const decided = admit(current, now, config);
          return { record: decided.record, result: decided };
        });
        const { change, result } = isPromiseLike(pending) ? await pending : pending;
        emit(key, change);
        admission = result;
      } catch (error) {
        // A store that cannot be reached must not fail the request: let it through uncounted.
        ctx.log.warn({ err: error, circuit: key }, 'circuitBreaker: the store failed; letting the request through');
      }
      if (admission === undefined) {
        ctx.circuitBreaker = { key, state: 'closed' };
        return next();
      }
      const { permit } = admission;
      const admittedAs = admission.record.state;
      if (permit === undefined) {
        ctx.circuitBreaker = { key, state: admittedAs };
        throw new CircuitBreakerOpenError(key, admittedAs, admission.retryAfterMs, { request: ctx.request });
      }
      ctx.circuitBreaker = { key, state: admittedAs };
      let response: Response;
      try {
        response = await next();
      } catch (error) {
        // An asynchronous store counts the outcome in the background: the caller does not wait on it.
        const counted = count(ctx, key, permit, admittedAs, { error });
        if (!isPromiseLike(counted)) ctx.circuitBreaker = { key, state: counted };
        throw error;
      }
      const counted = count(ctx, key, permit, admittedAs, { response });
      if (!isPromiseLike(counted)) ctx.circuitBreaker = { key, state: counted };
      return response;
    },
    {
      name: 'circuitBreaker',
      options: { ...resolved, store: resolved.store === undefined ? 'memory' : 'custom' },
    },
  );

  const controls: CircuitBreakerControls = {
    state: (key) => effectiveState(store.peek(key), clock.now()),
    isolate: async (key) => {
      const now = clock.now();
      emit(key, (await transition(key, (current) => ({ record: isolate(current, now) }))).change);
    },
    reset: async (key) => {
      emit(key, (await transition(key, (current) => ({ record: reset(current, config) }))).change);
    },
    snapshot: () => {
      const circuits: Record<string, CircuitBreakerRecord> = {};
      for (const [key, value] of store.entries()) circuits[key] = structuredClone(value);
      return { version: 1, takenAt: clock.now(), circuits };
    },
    hydrate: async (snapshot) => {
      const parsed = parseSnapshot(snapshot);
      for (const [key, saved] of Object.entries(parsed.circuits)) {
        await store.update(key, (current) => ({
          ...saved,
          counter: config.counter.accepts(saved.counter) ? saved.counter : config.counter.initial(),
          // Probes in flight belong to the process that took the snapshot; a newer generation
          // also makes the outcomes of calls in flight here count for nothing.
          probes: 0,
          generation: Math.max(saved.generation, current?.generation ?? 0) + 1,
        }));
      }
    },
    onStateChange: (listener) => {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
    },
  };
  return Object.assign(handler, controls);
}
