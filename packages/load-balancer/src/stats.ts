import type { Endpoint } from './endpoint.js';

/** One endpoint, as `balancer.stats()` reports it. */
export interface EndpointStats {
  /** Its URL (origin and base path). */
  readonly url: string;
  readonly weight: number;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Requests sent to it and not answered yet. */
  readonly inFlight: number;
  /** Requests sent to it, answered or not. */
  readonly requests: number;
  /** Failures counted against it: 5xx responses, network errors, connect/read/attempt timeouts. */
  readonly failures: number;
  /** Failures in a row since its last success (or ejection). */
  readonly consecutiveFailures: number;
  /** Its peak-EWMA latency in ms (time to the response headers; 0 before the first answer). */
  readonly ewmaLatencyMs: number;
  /** True while outlier detection has it ejected. */
  readonly ejected: boolean;
  /** When its ejection ends (per the balancer's clock), while it is ejected. */
  readonly ejectedUntil: number | undefined;
  /** How many times it has been ejected (comes down while it stays in). */
  readonly timesEjected: number;
  /** The active health checks' verdict (true when there are none). */
  readonly healthy: boolean;
  /** While its circuit breaker is open: when the balancer will try it again. */
  readonly circuitOpenUntil: number | undefined;
  /** True when nothing keeps it out of choice (healthy, not ejected, circuit not open). */
  readonly available: boolean;
}

/** Snapshots the endpoints at `now`. */
export function endpointStats(endpoints: readonly Endpoint[], now: number): EndpointStats[] {
  return endpoints.map((e) => ({
    url: e.url,
    weight: e.weight,
    metadata: e.metadata,
    inFlight: e.inFlight,
    requests: e.requests,
    failures: e.failures,
    consecutiveFailures: e.consecutiveFailures,
    ewmaLatencyMs: e.ewma,
    ejected: e.ejectedUntil > now,
    ejectedUntil: e.ejectedUntil > now ? e.ejectedUntil : undefined,
    timesEjected: e.timesEjected,
    healthy: e.healthy,
    circuitOpenUntil: e.unavailableUntil > now ? e.unavailableUntil : undefined,
    available: e.availableAt(now),
  }));
}
