/*
 * The circuit state machine, written here rather than taken from cockatiel's
 * CircuitBreakerPolicy because that policy cannot express what shallot promises: it lets one
 * half-open probe through (we allow `halfOpenMaxProbes`), closes on the first probe success (we
 * wait for `successThreshold`), keeps its state inside a live object (we keep it in a plain,
 * JSON-safe record that a shared store can hold and `snapshot()`/`hydrate()` can move), and
 * reads the wall clock (we take `now` from `ctx.clock`). Failure counting while closed is still
 * cockatiel's (see failure-counter.ts).
 *
 * Every function here is pure: it takes a record and returns the next one (the same object when
 * nothing changed), so a store may run it again on a fresh read (optimistic concurrency).
 */
import type { FailureCounter } from './failure-counter.js';

/**
 * The state of one circuit. `closed`: calls flow and failures are counted. `open`: calls fail
 * fast until the recovery timeout. `half-open`: a few probes test the upstream. `isolated`: held
 * open by an operator (`isolate(key)`) until `reset(key)`.
 */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** One circuit as a store keeps it: plain data, safe to serialise as JSON. */
export interface CircuitBreakerRecord {
  readonly state: CircuitState;
  /** Bumped on every state change; outcomes of calls let in under an older one are ignored. */
  readonly generation: number;
  /** The failure counter's state (cockatiel's breaker state). */
  readonly counter: unknown;
  /** When the circuit last opened (clock ms), or 0. */
  readonly openedAt: number;
  /** While open: when probes may start (clock ms). */
  readonly halfOpenAt: number;
  /** Times it re-opened since it last closed (drives the recovery backoff). */
  readonly reopens: number;
  /** While half-open: probes in flight. */
  readonly probes: number;
  /** While half-open: probe successes so far. */
  readonly successes: number;
  /**
   * While half-open: when the probes in flight are presumed lost (clock ms). A probe holds its
   * slot as a lease: if its outcome never comes (the process running it died, or it hangs), the
   * next call after this time takes the slot over, so the circuit cannot stay wedged half-open.
   * Absent in records written before leases existed (read as 0).
   */
  readonly probeLeaseUntil?: number;
}

/** What the machine needs to know of the options. */
export interface MachineConfig {
  readonly counter: FailureCounter;
  readonly halfOpenMaxProbes: number;
  readonly successThreshold: number;
  /** How long a probe holds its half-open slot before the slot is presumed lost. */
  readonly probeLeaseMs: number;
  /** The open period after `reopens` re-opens. */
  recoveryMs(reopens: number): number;
}

/** Lets a call through: remembers the generation it was let in under and whether it probes. */
export interface Permit {
  readonly generation: number;
  readonly probe: boolean;
}

/** What the machine decided for a call. */
export interface Admission {
  readonly record: CircuitBreakerRecord;
  /** Set when the call may go ahead. */
  readonly permit: Permit | undefined;
  /** When refused: how long until the circuit may let calls through (Infinity while isolated). */
  readonly retryAfterMs: number;
}

/** How a call ended, as far as the circuit is concerned. */
export type Verdict = 'success' | 'failure' | 'ignore';

/** A closed circuit that has seen nothing. */
export function initialRecord(config: MachineConfig, generation = 0): CircuitBreakerRecord {
  return { state: 'closed', generation, counter: config.counter.initial(), openedAt: 0, halfOpenAt: 0, reopens: 0, probes: 0, successes: 0, probeLeaseUntil: 0 };
}

function open(record: CircuitBreakerRecord, now: number, reopens: number, config: MachineConfig): CircuitBreakerRecord {
  return {
    state: 'open',
    generation: record.generation + 1,
    counter: config.counter.initial(),
    openedAt: now,
    halfOpenAt: now + config.recoveryMs(reopens),
    reopens,
    probes: 0,
    successes: 0,
    probeLeaseUntil: 0,
  };
}

/** Decides whether a call may go ahead now, taking a probe slot when half-open. */
export function admit(record: CircuitBreakerRecord, now: number, config: MachineConfig): Admission {
  switch (record.state) {
    case 'closed':
      return { record, permit: { generation: record.generation, probe: false }, retryAfterMs: 0 };
    case 'open': {
      if (now < record.halfOpenAt) return { record, permit: undefined, retryAfterMs: record.halfOpenAt - now };
      const next: CircuitBreakerRecord = {
        ...record,
        state: 'half-open',
        generation: record.generation + 1,
        probes: 1,
        successes: 0,
        probeLeaseUntil: now + config.probeLeaseMs,
      };
      return { record: next, permit: { generation: next.generation, probe: true }, retryAfterMs: 0 };
    }
    case 'half-open': {
      if (record.probes < config.halfOpenMaxProbes) {
        const next: CircuitBreakerRecord = { ...record, probes: record.probes + 1, probeLeaseUntil: now + config.probeLeaseMs };
        return { record: next, permit: { generation: next.generation, probe: true }, retryAfterMs: 0 };
      }
      if (now < (record.probeLeaseUntil ?? 0)) return { record, permit: undefined, retryAfterMs: 0 };
      // Every lease ran out without an outcome: the probes are written off (a new generation, so a
      // late outcome of one counts for nothing) and this call probes in their place.
      const next: CircuitBreakerRecord = { ...record, generation: record.generation + 1, probes: 1, probeLeaseUntil: now + config.probeLeaseMs };
      return { record: next, permit: { generation: next.generation, probe: true }, retryAfterMs: 0 };
    }
    case 'isolated':
      return { record, permit: undefined, retryAfterMs: Infinity };
  }
}

/** Records how a call that was let in ended. */
export function settle(record: CircuitBreakerRecord, permit: Permit, verdict: Verdict, now: number, config: MachineConfig): CircuitBreakerRecord {
  // A call let in before the last state change says nothing about the circuit as it is now.
  if (permit.generation !== record.generation) return record;
  if (permit.probe) {
    if (record.state !== 'half-open') return record;
    if (verdict === 'ignore') return { ...record, probes: Math.max(0, record.probes - 1) };
    if (verdict === 'failure') return open(record, now, record.reopens + 1, config);
    const successes = record.successes + 1;
    if (successes >= config.successThreshold) return initialRecord(config, record.generation + 1);
    return { ...record, probes: Math.max(0, record.probes - 1), successes };
  }
  if (record.state !== 'closed' || verdict === 'ignore') return record;
  if (verdict === 'success') {
    const counter = config.counter.success(record.counter);
    return counter === record.counter ? record : { ...record, counter };
  }
  const { state: counter, open: trips } = config.counter.failure(record.counter);
  return trips ? open(record, now, 0, config) : { ...record, counter };
}

/** Holds the circuit open until it is reset. */
export function isolate(record: CircuitBreakerRecord, now: number): CircuitBreakerRecord {
  if (record.state === 'isolated') return record;
  return { ...record, state: 'isolated', generation: record.generation + 1, openedAt: now, probes: 0, successes: 0 };
}

/** Closes the circuit and forgets its failures. */
export function reset(record: CircuitBreakerRecord, config: MachineConfig): CircuitBreakerRecord {
  return initialRecord(config, record.generation + 1);
}

/** The state a caller would meet now: an open circuit whose recovery time has passed is half-open. */
export function effectiveState(record: CircuitBreakerRecord | undefined, now: number): CircuitState {
  if (record === undefined) return 'closed';
  if (record.state === 'open' && now >= record.halfOpenAt) return 'half-open';
  return record.state;
}
