import type { Clock, Logger, TlsOptions } from '@shallot/core';
import { z } from 'zod';

/** One endpoint with its weight and metadata. */
export interface EndpointSpec {
  /** The endpoint's base URL: `http(s)://host:port`, optionally with a base path (`/api`). */
  url: string | URL;
  /** Its share of the traffic relative to the others (`weighted`, `random`, `least-request`, `p2c-ewma`). @default 1 */
  weight?: number;
  /** Anything you want to find again on `ctx.endpoint.metadata` and in `stats()` (zone, version). */
  metadata?: Record<string, unknown>;
}

/** An endpoint as a URL, or as a URL with a weight and metadata. */
export type EndpointInput = string | URL | EndpointSpec;

/** Produces the endpoint set, called at construction and every `refreshIntervalMs`. */
export type EndpointProvider = () => readonly EndpointInput[] | Promise<readonly EndpointInput[]>;

/**
 * Where the endpoints come from: a fixed list, a function called again every
 * `refreshIntervalMs` (DNS SRV, Consul, a file), or an async iterable whose every value replaces
 * the set (a Kubernetes endpoints watch).
 */
export type EndpointSource = readonly EndpointInput[] | EndpointProvider | AsyncIterable<readonly EndpointInput[]>;

/** The load-balancing strategies. */
export const strategies = ['round-robin', 'weighted', 'random', 'least-request', 'p2c-ewma'] as const;

/** How the balancer chooses among the available endpoints. */
export type Strategy = (typeof strategies)[number];

function endpointUrlProblem(value: string | URL): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'expected an absolute http: or https: URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `expected an http: or https: URL (got protocol ${url.protocol})`;
  if (url.search !== '' || url.hash !== '') return 'an endpoint URL takes no query or fragment';
  if (url.username !== '' || url.password !== '') return 'an endpoint URL takes no credentials (use an auth layer)';
  return undefined;
}

const endpointUrlSchema = z.union([z.string(), z.instanceof(URL)]).superRefine((value, ctx) => {
  const problem = endpointUrlProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

/** One endpoint: a URL string, a `URL`, or `{ url, weight?, metadata? }`. */
export const endpointSchema = z.union([
  endpointUrlSchema,
  z.strictObject({
    url: endpointUrlSchema,
    weight: z.number().positive().max(1_000_000).default(1),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
]);

/** A list of endpoints, as a provider or an async iterable must give it. */
export const endpointListSchema = z.array(endpointSchema);

const fn = <T>(what: string) => z.custom<T>((value) => typeof value === 'function', { message: `expected ${what}` });
const isAsyncIterable = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
const status = z.number().int().min(100).max(599);
const ms = z.number().positive().max(2_147_483_647);

/** Options of the active health checks (`healthCheck`). */
export const healthCheckOptionsSchema = z.strictObject({
  /** The path probed on every endpoint, after its base path (`/health`). */
  path: z.string().startsWith('/', 'expected a path starting with "/"'),
  /** Time between the end of a probe and the start of the next, before jitter. @default 10_000 */
  intervalMs: ms.default(10_000),
  /** Up to this much is added at random to every interval, so clients do not probe in step. @default intervalMs / 10 */
  jitterMs: z.number().min(0).max(2_147_483_647).optional(),
  /** A probe that has not answered in this long fails. @default 2_000 */
  timeoutMs: ms.default(2_000),
  /** Passing probes in a row that make an unhealthy endpoint healthy (and readmit an ejected one). @default 2 */
  healthyThreshold: z.number().int().min(1).max(100).default(2),
  /** Failing probes in a row that make a healthy endpoint unhealthy. @default 3 */
  unhealthyThreshold: z.number().int().min(1).max(100).default(3),
  /** The statuses that pass. @default any 2xx */
  expectStatus: z.union([status, z.array(status).min(1)]).optional(),
  /** The probe's method. @default 'GET' */
  method: z.enum(['GET', 'HEAD']).default('GET'),
  /** Headers sent with every probe. */
  headers: z.record(z.string(), z.string()).optional(),
  /**
   * TLS settings of the probes to https endpoints (a private CA, a client certificate): the
   * probes do not go through the client's layers, so a `tls()` layer does not reach them.
   */
  tls: z.custom<TlsOptions>((value) => typeof value === 'object' && value !== null, { message: 'expected TLS options (an object)' }).optional(),
});

/** What users pass as `healthCheck`. */
export type HealthCheckOptions = z.input<typeof healthCheckOptionsSchema>;
/** {@link HealthCheckOptions} with defaults applied. */
export type ResolvedHealthCheckOptions = z.output<typeof healthCheckOptionsSchema>;

/** Options of the passive outlier detection (`outlierDetection`), with Envoy's semantics. */
export const outlierDetectionOptionsSchema = z.strictObject({
  /**
   * Failures in a row (5xx responses, network errors, connect/read/attempt timeouts) that eject
   * an endpoint. 4xx responses and the caller's own aborts count neither way. @default 5
   */
  consecutiveFailures: z.number().int().min(1).max(1_000).default(5),
  /** The first ejection lasts this long; the n-th lasts n times as long. @default 30_000 */
  baseEjectionMs: ms.default(30_000),
  /** No ejection lasts longer than this. @default 300_000 */
  maxEjectionMs: ms.default(300_000),
  /**
   * At most this share of the endpoints is ejected at once (rounded down: with 3 endpoints, 50
   * allows one). @default 50
   */
  maxEjectionPercent: z.number().min(0).max(100).default(50),
});

/** What users pass as `outlierDetection`. */
export type OutlierDetectionOptions = z.input<typeof outlierDetectionOptionsSchema>;
/** {@link OutlierDetectionOptions} with defaults applied. */
export type ResolvedOutlierDetectionOptions = z.output<typeof outlierDetectionOptionsSchema>;

/**
 * Options of `loadBalancer()`.
 *
 * @example
 * loadBalancer({
 *   endpoints: ['http://10.0.0.1:8080', { url: 'http://10.0.0.2:8080', weight: 2 }],
 *   strategy: 'p2c-ewma',
 *   healthCheck: { path: '/health', intervalMs: 5_000 },
 * })
 */
export const loadBalancerOptionsSchema = z
  .strictObject({
    /**
     * The endpoints: a list of URLs (strings, `URL`s or `{ url, weight?, metadata? }`), a
     * function giving the list (called again every `refreshIntervalMs`), or an async iterable
     * whose every value replaces the set. Requests in flight are never dropped by a change.
     */
    endpoints: z.union([
      endpointListSchema,
      fn<EndpointProvider>('an array of endpoints, a function returning one, or an async iterable of them'),
      z.custom<AsyncIterable<readonly EndpointInput[]>>(isAsyncIterable, {
        message: 'expected an array of endpoints, a function returning one, or an async iterable of them',
      }),
    ]),
    /**
     * `round-robin` (in turn), `weighted` (smooth weighted round-robin, as nginx), `random`
     * (weighted), `least-request` (the less loaded of two random choices) or `p2c-ewma` (the
     * cheaper of two random choices by peak-EWMA latency times outstanding requests, as Finagle
     * and Linkerd). @default 'round-robin'
     */
    strategy: z.enum(strategies).default('round-robin'),
    /** Probes every endpoint in the background; off unless given. */
    healthCheck: healthCheckOptionsSchema.optional(),
    /** Ejects endpoints that fail in a row; `false` turns it off. @default { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 } */
    outlierDetection: z
      .union([z.literal(false), outlierDetectionOptionsSchema])
      .default({ consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectionPercent: 50 }),
    /**
     * Below this share of available endpoints (in percent), every endpoint is chosen from as if
     * all were healthy (Envoy's panic threshold). Whatever it is, a balancer with no available
     * endpoint spreads over all of them rather than failing. @default 0
     */
    panicThresholdPercent: z.number().min(0).max(100).default(0),
    /** How fast `p2c-ewma`'s latency estimate forgets (Finagle's decay time). @default 10_000 */
    ewmaDecayMs: ms.default(10_000),
    /** How often a function given as `endpoints` is called again. @default 30_000 */
    refreshIntervalMs: ms.optional(),
    /** The clock of the background work (health checks, refreshes) and of `stats()`. Pass the client's. @default the real clock */
    clock: z.custom<Clock>((value) => typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function', { message: 'expected a Clock' }).optional(),
    /** Where background events (health changes, discovery errors) are logged. @default silent */
    logger: z.custom<Logger>((value) => typeof value === 'object' && value !== null && typeof (value as Logger).warn === 'function', { message: 'expected a pino-compatible logger' }).optional(),
  })
  .superRefine((options, ctx) => {
    if (options.refreshIntervalMs !== undefined && typeof options.endpoints !== 'function') {
      ctx.addIssue({ code: 'custom', path: ['refreshIntervalMs'], message: 'only applies when endpoints is a function' });
    }
    const hc = options.healthCheck;
    if (hc?.jitterMs !== undefined && hc.jitterMs > hc.intervalMs) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck', 'jitterMs'], message: `expected at most intervalMs (${hc.intervalMs})` });
    }
    const od = options.outlierDetection;
    if (od !== false && od.maxEjectionMs < od.baseEjectionMs) {
      ctx.addIssue({ code: 'custom', path: ['outlierDetection', 'maxEjectionMs'], message: `expected at least baseEjectionMs (${od.baseEjectionMs})` });
    }
  });

/** What users pass to `loadBalancer()`. */
export type LoadBalancerOptions = z.input<typeof loadBalancerOptionsSchema>;
/** {@link LoadBalancerOptions} with defaults applied. */
export type ResolvedLoadBalancerOptions = z.output<typeof loadBalancerOptionsSchema>;
