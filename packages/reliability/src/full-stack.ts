import { existsSync } from 'node:fs';
import { cache, type CacheMiddleware, type CacheOptions } from '@shallot/cache';
import { circuitBreaker, type CircuitBreakerMiddleware, type CircuitBreakerOptions } from '@shallot/circuit-breaker';
import { type Builder, compose, type Middleware } from '@shallot/core';
import { hedge, type HedgeOptions } from '@shallot/hedge';
import { tls, type TlsOptions } from '@shallot/mtls';
import { rateLimit, type RateLimitMiddleware, type RateLimitOptions } from '@shallot/rate-limit';
import { retry, type RetryMiddleware, type RetryOptions } from '@shallot/retry';
import { timeout, type TimeoutOptions } from '@shallot/timeout';
import { metrics, type MetricsMiddleware, type MetricsOptions, requestId, type RequestIdOptions, tracing, type TracingOptions } from '@shallot/tracing';

/**
 * Options of every layer of {@link fullStack}, each merged over the stack's defaults. `false`
 * leaves a layer out (where the stack allows it).
 */
export interface FullStackSettings {
  requestId?: RequestIdOptions;
  tracing?: TracingOptions;
  metrics?: MetricsOptions;
  /** The outer timeout (bounds the whole call, retries included). @default { totalMs: 10_000 } */
  totalTimeout?: TimeoutOptions;
  cache?: CacheOptions;
  rateLimit?: RateLimitOptions;
  retry?: RetryOptions;
  /** `false` leaves hedging out. @default { delayMs: 200 } */
  hedge?: HedgeOptions | false;
  circuitBreaker?: CircuitBreakerOptions;
  /** The inner timeout (one attempt). @default { attemptMs: 2_000, readMs: 1_000 } */
  attemptTimeout?: TimeoutOptions;
  /** TLS settings (a CA for an https upstream); unset leaves `tls()` out. */
  tls?: TlsOptions;
  /**
   * Options of the layers whose packages land on main later (`hooks`, `auth`, `loadBalancer`,
   * `cookies`): each is added when its package is in the workspace. `auth` and `loadBalancer`
   * need options to be added at all (credentials, endpoints).
   */
  arriving?: ArrivingSettings;
}

/** Options of the layers from packages that arrive later. */
export interface ArrivingSettings {
  hooks?: Record<string, unknown>;
  auth?: Record<string, unknown>;
  loadBalancer?: Record<string, unknown>;
  cookies?: Record<string, unknown>;
}

/** The stack's builder, with the layers a test or the soak reads back. */
export interface FullStack {
  /** `compose()` with every layer added: call `.build({ transport, logger, ... })`. */
  readonly builder: Builder<any>;
  /** The layer names, outermost first. */
  readonly layers: readonly string[];
  readonly metrics: MetricsMiddleware;
  readonly cache: CacheMiddleware;
  readonly rateLimit: RateLimitMiddleware;
  readonly retry: RetryMiddleware;
  readonly circuitBreaker: CircuitBreakerMiddleware;
}

type Factory = (mod: Record<string, any>, settings: Record<string, unknown> | undefined) => Middleware<any, any> | undefined;

/**
 * THE PLACE FOR THE LAYERS THAT LAND LATER. Each entry is the package folder, where the layer
 * sits in the onion (just before the named layer), and how it is made from its module. A layer
 * joins the stack as soon as its package is in the workspace; when it lands, check that its
 * factory call here still matches its exports.
 */
const arrivingLayers: ReadonlyArray<{ dir: string; name: keyof ArrivingSettings; before: string; make: Factory }> = [
  // Outermost after the observers: hooks see (and may rewrite) every request, as ConnectionManager does.
  { dir: 'hooks', name: 'hooks', before: 'timeout-total', make: (m, s) => m.hooks(new m.HookRegistry(), s) },
  // Cookies outside the cache and retry: every attempt and redirect hop sees the jar.
  { dir: 'cookies', name: 'cookies', before: 'cache', make: (m, s) => m.cookies(s ?? {}) },
  // Credentials inside the layers that change the URL, outside retry (a refresh is replayed like any request).
  { dir: 'auth', name: 'auth', before: 'rateLimit', make: (m, s) => (s === undefined ? undefined : m.auth(s)) },
  // A path goes to the chosen endpoint; a retry to another one.
  { dir: 'load-balancer', name: 'loadBalancer', before: 'rateLimit', make: (m, s) => (s === undefined ? undefined : m.loadBalancer(s)) },
];

const packagesDir = new URL('../../', import.meta.url);

async function loadArriving(settings: ArrivingSettings | undefined): Promise<Map<string, Array<[string, Middleware<any, any>]>>> {
  const byPosition = new Map<string, Array<[string, Middleware<any, any>]>>();
  for (const entry of arrivingLayers) {
    if (!existsSync(new URL(`${entry.dir}/package.json`, packagesDir))) continue;
    const specifier = `@shallot/${entry.dir}`;
    const mod = (await import(/* @vite-ignore */ specifier)) as Record<string, any>;
    const layer = entry.make(mod, settings?.[entry.name]);
    if (layer === undefined) continue;
    const list = byPosition.get(entry.before) ?? [];
    list.push([entry.name, layer]);
    byPosition.set(entry.before, list);
  }
  return byPosition;
}

/**
 * Every middleware package in the workspace, in the order a production stack uses them:
 * requestId, tracing, metrics, timeout (total), cache, rateLimit, retry, hedge, circuitBreaker,
 * timeout (attempt), tls. The layers from packages that land later (hooks, cookies, auth,
 * loadBalancer) are added where they belong as soon as their packages exist.
 *
 * @example
 * const stack = await fullStack({ retry: { maxAttempts: 3 } });
 * const client = stack.builder.build({ transport: nodeFetchTransport() });
 */
export async function fullStack(settings: FullStackSettings = {}): Promise<FullStack> {
  const observe = metrics(settings.metrics);
  const store = cache({ maxSizeBytes: 4 * 1024 * 1024, ...settings.cache });
  const limiter = rateLimit({ limit: 5_000, intervalMs: 1_000, burst: 500, ...settings.rateLimit });
  const retries = retry({ maxAttempts: 3, backoff: { kind: 'exponential', initialMs: 10, maxMs: 100 }, ...settings.retry });
  const breaker = circuitBreaker({ failureThreshold: 10, recoveryTimeoutMs: 200, probeLeaseMs: 5_000, ...settings.circuitBreaker });
  const core: Array<[string, Middleware<any, any>]> = [
    ['requestId', requestId(settings.requestId)],
    ['tracing', tracing(settings.tracing)],
    ['metrics', observe],
    ['timeout-total', timeout({ totalMs: 10_000, ...settings.totalTimeout })],
    ['cache', store],
    ['rateLimit', limiter],
    ['retry', retries],
  ];
  if (settings.hedge !== false) core.push(['hedge', hedge({ delayMs: 200, ...settings.hedge })]);
  core.push(['circuitBreaker', breaker], ['timeout-attempt', timeout({ attemptMs: 2_000, readMs: 1_000, ...settings.attemptTimeout })]);
  if (settings.tls !== undefined) core.push(['tls', tls(settings.tls)]);

  const arriving = await loadArriving(settings.arriving);
  let builder: Builder<any> = compose();
  const layers: string[] = [];
  for (const [name, layer] of core) {
    for (const [lateName, late] of arriving.get(name) ?? []) {
      builder = builder.use(late);
      layers.push(lateName);
    }
    builder = builder.use(layer);
    layers.push(name);
  }
  return { builder, layers, metrics: observe, cache: store, rateLimit: limiter, retry: retries, circuitBreaker: breaker };
}
