import { type BaseContext, defineMiddleware, type Middleware, parseOptions, type TransportHook } from '@shallot/core';
import { errorType } from './http-attributes.js';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { type MetricsOptions, metricsOptionsSchema } from './options.js';
import { redactText } from '@shallot/core';
import { attachTransportHook } from './transport-hook.js';

/** What `metrics()` knows of one host (or key). */
export interface HostStats {
  /** Requests that settled (with a response or an error). */
  readonly requests: number;
  /** Requests that settled with an error instead of a response (timeouts, network errors, open circuits). */
  readonly errors: number;
  /** `errors / requests` (0 before any request settled). */
  readonly errorRate: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  /** Attempts the transport sent (more than `requests` when retries or hedges happened). */
  readonly attempts: number;
  /** Responses by status code (`{ '200': 9, '503': 1 }`). */
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Errors by type (`{ TimeoutError: 1 }`), as in the spans' `error.type`. */
  readonly errorTypes: Readonly<Record<string, number>>;
  /** Time to the response headers of requests that got a response, in milliseconds. */
  readonly latencyMs: LatencySummary;
}

/** `snapshot()` of `metrics()`: totals and per-host stats. */
export interface MetricsSnapshot {
  /** When counting started: the clock time of the first request after creation or the last `reset()` (0 before any). */
  readonly since: number;
  /** Requests settled, all hosts. */
  readonly requests: number;
  /** Requests that failed with an error, all hosts. */
  readonly errors: number;
  /** Requests in flight, all hosts. */
  readonly inFlight: number;
  /** Latency over all hosts, in milliseconds. */
  readonly latencyMs: LatencySummary;
  /** Stats per host (or per `key`). */
  readonly hosts: Readonly<Record<string, HostStats>>;
}

/** The middleware `metrics()` returns: use it in a stack, read it with `snapshot()`. */
export interface MetricsMiddleware extends Middleware {
  /** The stats as they are now (a copy). */
  snapshot(): MetricsSnapshot;
  /** Forgets every count; requests in flight stay counted as in flight. */
  reset(): void;
}

class HostRecord {
  requests = 0;
  errors = 0;
  inFlight = 0;
  attempts = 0;
  readonly statusCodes = new Map<number, number>();
  readonly errorTypes = new Map<string, number>();
  readonly latency = new LatencyHistogram();

  stats(): HostStats {
    return {
      requests: this.requests,
      errors: this.errors,
      errorRate: this.requests === 0 ? 0 : this.errors / this.requests,
      inFlight: this.inFlight,
      attempts: this.attempts,
      statusCodes: Object.fromEntries([...this.statusCodes].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v])),
      errorTypes: Object.fromEntries(this.errorTypes),
      latencyMs: this.latency.summary(),
    };
  }
}

const bump = <K>(map: Map<K, number>, key: K): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

/**
 * In-process request statistics without OpenTelemetry, per host: requests, errors, status
 * codes, attempts, requests in flight, and latency p50/p95/p99 from a fixed-size histogram
 * (memory does not grow with the number of requests; the number of hosts kept is bounded by
 * `maxHosts`). Read them with `snapshot()`, clear them with `reset()`. This is the seed's
 * PerformanceMonitor, and what `ConnectionManager.getStats()` reports.
 *
 * Place it outside retry to count logical requests (attempts are counted separately).
 *
 * @example
 * const stats = metrics();
 * const client = compose().use(stats).use(retry()).build();
 * await client.get('https://api.example.com/items');
 * stats.snapshot().hosts['api.example.com'].latencyMs.p95;
 */
export function metrics(options?: MetricsOptions): MetricsMiddleware {
  const resolved = parseOptions(metricsOptionsSchema, options, 'metrics');
  const { key, maxHosts } = resolved;
  const keyOf: (ctx: BaseContext) => string =
    key === 'host' ? (ctx) => ctx.request.url.host : key === 'origin' ? (ctx) => ctx.request.url.origin : (ctx) => redactText(String(key(ctx)));
  let hosts = new Map<string, HostRecord>();
  let since: number | undefined;
  // The record touched last is already the most recently used: no Map work for a run of one host.
  let lastName: string | undefined;
  let lastRecord: HostRecord | undefined;

  /** The record of `name`, made most recently used; the least recently used idle record goes past `maxHosts`. */
  const touch = (name: string): HostRecord => {
    if (name === lastName && lastRecord !== undefined) return lastRecord;
    let record = hosts.get(name);
    if (record !== undefined) hosts.delete(name);
    else record = new HostRecord();
    hosts.set(name, record);
    if (hosts.size > maxHosts) {
      for (const [oldName, old] of hosts) {
        if (old.inFlight === 0 && old !== record) {
          hosts.delete(oldName);
          break;
        }
      }
    }
    lastName = name;
    lastRecord = record;
    return record;
  };

  // One hook for every request: it counts each attempt under the attempt's own key.
  const countAttempt: TransportHook = (attemptCtx, send) => {
    touch(keyOf(attemptCtx)).attempts++;
    return send();
  };

  const handler = defineMiddleware(
    async function metrics(ctx, next) {
      const name = keyOf(ctx);
      const start = ctx.clock.now();
      since ??= start;
      touch(name).inFlight++;
      const detach = attachTransportHook(ctx, countAttempt);
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await next();
        return response;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        detach();
        const record = touch(name);
        record.inFlight = Math.max(0, record.inFlight - 1);
        record.requests++;
        if (response !== undefined) {
          bump(record.statusCodes, response.status);
          record.latency.record(ctx.clock.now() - start);
        } else {
          record.errors++;
          bump(record.errorTypes, errorType(failure));
        }
      }
    },
    { name: 'metrics', options: resolved },
  );

  const snapshot = (): MetricsSnapshot => {
    const all = new LatencyHistogram();
    const out: Record<string, HostStats> = {};
    let requests = 0;
    let errors = 0;
    let inFlight = 0;
    for (const [name, record] of hosts) {
      out[name] = record.stats();
      requests += record.requests;
      errors += record.errors;
      inFlight += record.inFlight;
      all.merge(record.latency);
    }
    return { since: since ?? 0, requests, errors, inFlight, latencyMs: all.summary(), hosts: out };
  };

  const reset = (): void => {
    const kept = new Map<string, HostRecord>();
    for (const [name, record] of hosts) {
      if (record.inFlight === 0) continue;
      const fresh = new HostRecord();
      fresh.inFlight = record.inFlight;
      kept.set(name, fresh);
    }
    hosts = kept;
    since = undefined;
    lastName = undefined;
    lastRecord = undefined;
  };

  Object.defineProperties(handler, {
    snapshot: { value: snapshot, enumerable: true },
    reset: { value: reset, enumerable: true },
  });
  return handler as MetricsMiddleware;
}
