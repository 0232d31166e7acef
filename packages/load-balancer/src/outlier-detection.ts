import type { Endpoint } from './endpoint.js';
import type { EndpointPool } from './endpoint-pool.js';
import type { EjectEvent } from './events.js';
import type { ResolvedOutlierDetectionOptions } from './options.js';

// Timeouts that say the endpoint was slow or unreachable; a `total` timeout is the caller's budget.
const endpointTimeouts = new Set(['connect', 'read', 'attempt']);

/**
 * Whether an error counts against the endpoint: network errors and connect, read and attempt
 * timeouts do (and an `HttpError` for a 5xx, when an inner layer throws one); the caller's
 * abort, a total timeout, refusals made before the network (rate limits) and the rest do not.
 */
export function isEndpointFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, kind, status } = error as { code?: unknown; kind?: unknown; status?: unknown };
  if (code === 'ERR_NETWORK') return true;
  if (code === 'ERR_TIMEOUT') return endpointTimeouts.has(kind as string);
  if (code === 'ERR_HTTP') return typeof status === 'number' && status >= 500;
  return false;
}

/**
 * Passive outlier detection with Envoy's semantics: `consecutiveFailures` failures in a row eject
 * an endpoint for `baseEjectionMs` times the number of times it was ejected, capped at
 * `maxEjectionMs`; never more than `maxEjectionPercent` of the set at once. The multiplier comes
 * down by one for every `baseEjectionMs` the endpoint then stays in.
 */
export class OutlierDetector {
  readonly #options: ResolvedOutlierDetectionOptions | false;
  readonly #pool: EndpointPool;
  readonly #onEject: (event: EjectEvent) => void;

  constructor(options: ResolvedOutlierDetectionOptions | false, pool: EndpointPool, onEject: (event: EjectEvent) => void) {
    this.#options = options;
    this.#pool = pool;
    this.#onEject = onEject;
  }

  /** Counts a failure of `endpoint` at `now`, and ejects it if that was one too many. */
  failure(endpoint: Endpoint, now: number): void {
    endpoint.failures++;
    endpoint.consecutiveFailures++;
    const options = this.#options;
    if (options === false || endpoint.removed || endpoint.ejectedUntil > now) return;
    if (endpoint.consecutiveFailures < options.consecutiveFailures) return;
    const allowed = Math.floor((this.#pool.all.length * options.maxEjectionPercent) / 100);
    if (this.#pool.ejectedCount(now) >= allowed) return;
    if (endpoint.timesEjected > 0) {
      const stepsIn = Math.floor((now - endpoint.lastEjectionEnd) / options.baseEjectionMs);
      endpoint.timesEjected = Math.max(0, endpoint.timesEjected - stepsIn);
    }
    endpoint.timesEjected++;
    const failures = endpoint.consecutiveFailures;
    endpoint.ejectedUntil = now + Math.min(options.baseEjectionMs * endpoint.timesEjected, options.maxEjectionMs);
    endpoint.consecutiveFailures = 0;
    // Readmission by health checks needs fresh passes, counted from now.
    endpoint.passes = 0;
    this.#pool.invalidate();
    this.#onEject({ endpoint: endpoint.url, until: endpoint.ejectedUntil, timesEjected: endpoint.timesEjected, consecutiveFailures: failures });
  }
}
