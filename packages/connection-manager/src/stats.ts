import type { CircuitState } from '@shallot/circuit-breaker';
import type { TransportStats } from '@shallot/core';
import type { HookList } from '@shallot/hooks';
import type { MetricsSnapshot } from '@shallot/tracing';
import type { EndpointStack } from './endpoint-stack.js';

/** A circuit, as `getStats()` reports it. */
export interface CircuitStats {
  /** The endpoint whose breaker holds it: `(default)` or the pattern. */
  readonly endpoint: string;
  readonly state: CircuitState;
}

/** An endpoint's rate limit, as `getStats()` reports it. */
export interface RateLimitStats {
  /** Requests per `intervalMs` as configured. */
  readonly limit: number;
  readonly intervalMs: number;
  /** The limit in force now for the global bucket (it moves only with `rateLimitAdaptive`). */
  readonly currentLimit: number;
  readonly mode: 'wait' | 'reject';
}

/**
 * What `getStats()` returns: the `metrics` layer's snapshot (`errors`, `inFlight`, `latencyMs`
 * and per-host `hosts`: requests, errors, attempts, status codes, error types, latency
 * percentiles), with the circuits, rate limits, pool and hooks.
 */
export interface ConnectionManagerStats extends Pick<MetricsSnapshot, 'errors' | 'inFlight' | 'latencyMs' | 'hosts'> {
  /** Requests that settled (with a response or an error). */
  readonly requestsMade: number;
  /** `errors / requestsMade` (0 before any request). */
  readonly errorRate: number;
  /** Every circuit that has seen a request, by its key (`host:port`, or the URL-prefix pattern). */
  readonly circuitBreakers: Readonly<Record<string, CircuitStats>>;
  /** Each endpoint's rate limit, by endpoint (`(default)` or the pattern). */
  readonly rateLimits: Readonly<Record<string, RateLimitStats>>;
  /** Connection pool usage, from the transport. */
  readonly pool: TransportStats | undefined;
  /** The endpoint patterns configured. */
  readonly endpoints: readonly string[];
  /** The names of the registered hooks. */
  readonly hooks: HookList;
}

/** Puts the metrics snapshot, the endpoint stacks' state and the pool's usage together. */
export function collectStats(metrics: MetricsSnapshot, stacks: readonly EndpointStack[], pool: TransportStats | undefined, hooks: HookList): ConnectionManagerStats {
  const circuitBreakers: Record<string, CircuitStats> = {};
  const rateLimits: Record<string, RateLimitStats> = {};
  for (const stack of stacks) {
    const breaker = stack.breaker;
    if (breaker !== undefined) {
      for (const key of Object.keys(breaker.snapshot().circuits)) circuitBreakers[key] = { endpoint: stack.name, state: breaker.state(key) };
    }
    const limiter = stack.limiter;
    const s = stack.settings;
    if (limiter !== undefined && s.rateLimitRequests !== null) {
      rateLimits[stack.name] = { limit: s.rateLimitRequests, intervalMs: s.rateLimitPeriodMs, currentLimit: limiter.currentLimit(), mode: s.rateLimitMode };
    }
  }
  return {
    requestsMade: metrics.requests,
    errors: metrics.errors,
    errorRate: metrics.requests === 0 ? 0 : metrics.errors / metrics.requests,
    inFlight: metrics.inFlight,
    latencyMs: metrics.latencyMs,
    hosts: metrics.hosts,
    circuitBreakers,
    rateLimits,
    pool,
    endpoints: stacks.slice(1).map((stack) => stack.name),
    hooks,
  };
}
