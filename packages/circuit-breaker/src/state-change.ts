import type { CircuitState } from './state-machine.js';

/** A circuit changed state. */
export interface CircuitStateChange {
  /** The circuit's key. */
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /**
   * What caused the change, when a call did: the error it threw, or an `HttpError` carrying the
   * response it failed with. Absent for time passing and operator actions.
   */
  readonly error?: unknown;
  /** The status of the response that caused the change, when it failed with a response. */
  readonly status?: number;
}

/** Listens to state changes. */
export type CircuitStateListener = (change: CircuitStateChange) => void;
