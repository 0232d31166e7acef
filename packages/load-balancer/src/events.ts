/** Returned by every `onX(listener)`: `dispose()` removes the listener. */
export type { Subscription } from '@shallot/core';

/** An endpoint was ejected by outlier detection. */
export interface EjectEvent {
  /** The endpoint's URL. */
  readonly endpoint: string;
  /** When it comes back (per the balancer's clock), unless a passing health check readmits it sooner. */
  readonly until: number;
  /** How many times it has been ejected, this one included (the ejection lasted `baseEjectionMs` times this, capped). */
  readonly timesEjected: number;
  /** The failures in a row that ejected it. */
  readonly consecutiveFailures: number;
}

/** An ejected endpoint is back in rotation. */
export interface ReadmitEvent {
  readonly endpoint: string;
  /** `timeout`: its ejection time ran out; `health-check`: active health checks passed `healthyThreshold` times since it was ejected. */
  readonly reason: 'timeout' | 'health-check';
}

/** Active health checks changed their verdict on an endpoint. */
export interface HealthChangeEvent {
  readonly endpoint: string;
  readonly healthy: boolean;
  /** The status of the probe that decided it, when it answered. */
  readonly status?: number | undefined;
  /** The error of the probe that decided it, when it failed without answering. */
  readonly error?: unknown;
}

/** The endpoint set changed (a provider or an async iterable gave a new one). */
export interface EndpointsChangeEvent {
  /** The URLs of the whole new set. */
  readonly endpoints: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A provider threw, an async iterable failed, or a set it gave was invalid: the last good set stays. */
export interface DiscoveryErrorEvent {
  readonly error: unknown;
}

