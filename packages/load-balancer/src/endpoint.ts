import type { z } from 'zod';
import type { endpointSchema } from './options.js';

/** An endpoint as validated: a URL, or a URL with a weight and metadata. */
export type ParsedEndpoint = z.output<typeof endpointSchema>;

/** An endpoint reduced to what the balancer keeps: its normalised URL, weight and metadata. */
export interface EndpointDefinition {
  /** `origin` plus the base path without its trailing slash: `http://10.0.0.1:8080`, `https://gw/api`. */
  readonly url: string;
  readonly weight: number;
  readonly metadata: Readonly<Record<string, unknown>>;
}

const noMetadata: Readonly<Record<string, unknown>> = Object.freeze({});

/** The key an endpoint URL goes by: origin and base path, without a trailing slash. */
export function endpointKey(value: string | URL): string {
  const url = new URL(value);
  const path = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return url.origin + path;
}

/** Reduces validated endpoints to definitions; a URL given twice keeps its first entry. */
export function toDefinitions(list: readonly ParsedEndpoint[]): EndpointDefinition[] {
  const seen = new Set<string>();
  const out: EndpointDefinition[] = [];
  for (const item of list) {
    const spec = typeof item === 'string' || item instanceof URL ? { url: item, weight: 1, metadata: undefined } : item;
    const url = endpointKey(spec.url);
    if (seen.has(url)) continue;
    seen.add(url);
    out.push({ url, weight: spec.weight, metadata: spec.metadata === undefined ? noMetadata : Object.freeze({ ...spec.metadata }) });
  }
  return out;
}

/**
 * The live state of one endpoint: its load, latency estimate, ejection and health. Shared by
 * every request to it; a request in flight keeps its endpoint even once the set has dropped it.
 */
export class Endpoint {
  readonly url: string;
  /** The origin alone, for matching full request URLs. */
  readonly origin: string;
  /** The base path without its trailing slash (`''` for none). */
  readonly basePath: string;
  weight: number;
  metadata: Readonly<Record<string, unknown>>;

  /** Requests sent and not yet answered. */
  inFlight = 0;
  requests = 0;
  failures = 0;
  consecutiveFailures = 0;

  /** Peak EWMA of the latency in ms (0 until the first answer), as of `ewmaStamp`. */
  ewma = 0;
  ewmaStamp = 0;

  /** Ejected by outlier detection until then (0: not ejected). */
  ejectedUntil = 0;
  timesEjected = 0;
  /** When the last ejection ended, for the multiplier's decay. */
  lastEjectionEnd = 0;

  /** The verdict of active health checks (true until they say otherwise). */
  healthy = true;
  /** Passing and failing probes in a row. */
  passes = 0;
  fails = 0;

  /** Out of choice until then because its circuit breaker is open (0: not). */
  unavailableUntil = 0;

  /** Smooth weighted round-robin's running weight. */
  currentWeight = 0;

  /** True once the set no longer has it. */
  removed = false;

  constructor(definition: EndpointDefinition) {
    this.url = definition.url;
    const url = new URL(definition.url);
    this.origin = url.origin;
    this.basePath = url.pathname === '/' ? '' : url.pathname;
    this.weight = definition.weight;
    this.metadata = definition.metadata;
  }

  /** True when nothing keeps it out of choice at `now`. */
  availableAt(now: number): boolean {
    return this.healthy && this.ejectedUntil <= now && this.unavailableUntil <= now;
  }

  /**
   * Records a latency in the peak EWMA (Finagle's `PeakEwma`): a sample above the estimate
   * replaces it at once; below it, the estimate moves towards it by how much time has passed
   * relative to `decayMs`.
   */
  observe(latencyMs: number, now: number, decayMs: number): void {
    if (latencyMs > this.ewma) this.ewma = latencyMs;
    else {
      const w = Math.exp(-Math.max(now - this.ewmaStamp, 0) / decayMs);
      this.ewma = this.ewma * w + latencyMs * (1 - w);
    }
    this.ewmaStamp = now;
  }

  /** The estimate decayed towards 0 for the time without samples, so an idle slow endpoint is tried again. */
  ewmaAt(now: number, decayMs: number): number {
    const elapsed = now - this.ewmaStamp;
    return elapsed <= 0 ? this.ewma : this.ewma * Math.exp(-elapsed / decayMs);
  }
}
