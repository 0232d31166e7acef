import { errorGuard, ShallotError, type ShallotErrorOptions } from '@shallot/core';
import type { CircuitState } from './state-machine.js';

function describe(key: string, state: CircuitState, retryAfterMs: number): string {
  if (state === 'isolated') return `circuit '${key}' is isolated until it is reset`;
  if (state === 'half-open') return `circuit '${key}' is half-open and its probes are in flight`;
  return `circuit '${key}' is open; it lets a probe through in ${Math.ceil(retryAfterMs)} ms`;
}

/**
 * The circuit for this request is open (or half-open with every probe slot taken, or isolated):
 * the request was refused without touching the network.
 */
export class CircuitBreakerOpenError extends ShallotError {
  /** The circuit's key (`host:port` by default). */
  readonly key: string;
  /**
   * Milliseconds until the circuit lets a probe through: 0 while half-open (ask again once the
   * probe in flight settles), `Infinity` while isolated.
   */
  readonly retryAfterMs: number;
  /** The state the circuit was in. */
  readonly state: CircuitState;

  constructor(key: string, state: CircuitState, retryAfterMs: number, options: ShallotErrorOptions = {}) {
    super('ERR_CIRCUIT_OPEN', describe(key, state, retryAfterMs), options);
    this.name = 'CircuitBreakerOpenError';
    this.key = key;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}

/** True for a {@link CircuitBreakerOpenError} from any installed copy of shallot. */
export const isCircuitBreakerOpenError = errorGuard<CircuitBreakerOpenError>('ERR_CIRCUIT_OPEN');
