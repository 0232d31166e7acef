import { type Context, defineMiddleware, isPathOnly, Listeners, type Middleware, type Next, parseOptions, realClock, silentLogger } from '@shallot/core';
import { startDiscovery } from './discovery.js';
import { type Endpoint, toDefinitions } from './endpoint.js';
import { type EndpointContext, type EndpointRecord, nothingTried } from './endpoint-context.js';
import { EndpointPool } from './endpoint-pool.js';
import { NoHealthyEndpointError } from './errors.js';
import {
  type DiscoveryErrorEvent,
  type EjectEvent,
  type EndpointsChangeEvent,
  type HealthChangeEvent,
  type ReadmitEvent,
  type Subscription,
} from './events.js';
import { applyProbe, HealthChecker } from './health-check.js';
import { endpointListSchema, type LoadBalancerOptions, loadBalancerOptionsSchema } from './options.js';
import { isEndpointFailure, OutlierDetector } from './outlier-detection.js';
import { type EndpointStats, endpointStats } from './stats.js';
import { createPicker } from './strategies.js';

/** The events and controls of a `loadBalancer()` middleware. */
export interface LoadBalancerControls {
  /** Per endpoint, in the order of the set: load, latency estimate, ejection, health, counts. */
  stats(): EndpointStats[];
  /** Calls a provider given as `endpoints` again now (a no-op for a list or an async iterable). */
  refresh(): Promise<void>;
  /** Listens to outlier detection ejecting an endpoint. */
  onEject(listener: (event: EjectEvent) => void): Subscription;
  /** Listens to an ejected endpoint coming back. */
  onReadmit(listener: (event: ReadmitEvent) => void): Subscription;
  /** Listens to active health checks changing their verdict on an endpoint. */
  onHealthChange(listener: (event: HealthChangeEvent) => void): Subscription;
  /** Listens to the endpoint set changing. */
  onEndpointsChange(listener: (event: EndpointsChangeEvent) => void): Subscription;
  /** Listens to a provider or async iterable failing, or giving an invalid set. */
  onDiscoveryError(listener: (event: DiscoveryErrorEvent) => void): Subscription;
}

/** The middleware `loadBalancer()` returns: it provides `ctx.endpoint` and has its controls. */
export interface LoadBalancerMiddleware extends Middleware<{}, { endpoint: EndpointContext }>, LoadBalancerControls {
  /** Stops health checks and discovery, and closes the probes' transport; `client.close()` calls it. */
  readonly close: () => Promise<void>;
}

type BalancedContext = Context<{ endpoint?: EndpointContext }>;

// An isolated circuit (retryAfterMs Infinity) is asked again after this long; it fails fast meanwhile.
const isolatedWaitMs = 5_000;
const defaultRefreshMs = 30_000;

// The first set is not known yet: wait for it, or for the request's abort or deadline.
function waitForEndpoints(ctx: BalancedContext, ready: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const subscription = ctx.onAbort(reject);
    ready.then(() => {
      subscription.dispose();
      resolve();
    }, reject);
  });
}

function openCircuitWait(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || (error as { code?: unknown }).code !== 'ERR_CIRCUIT_OPEN') return undefined;
  const wait = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof wait !== 'number' || Number.isNaN(wait)) return 0;
  return wait === Infinity ? isolatedWaitMs : Math.max(0, wait);
}

/**
 * Spreads requests over a set of endpoints. A request given as a path (`client.get('/data/1')`
 * on a client without `baseUrl`) goes to the endpoint the strategy chooses: its URL becomes the
 * endpoint's URL (base path kept) plus the path, and `ctx.endpoint` says which. A request with a
 * full URL whose origin is one of the endpoints' is balanced too (its path taken after that
 * endpoint's base path); any other full URL passes through untouched.
 *
 * Place it inside `retry()`: each attempt picks again and avoids the endpoints earlier attempts
 * went to. Place a `circuitBreaker()` (keyed by host, its default, or by `ctx.endpoint.url`)
 * inside it: an open circuit takes its endpoint out of choice for the circuit's `retryAfterMs`,
 * and the request is sent to another endpoint at once (nothing was sent, so this is always safe).
 *
 * Endpoints that fail `outlierDetection.consecutiveFailures` times in a row (5xx, network
 * errors, connect/read/attempt timeouts) are ejected for a while; active `healthCheck`s probe
 * every endpoint in the background. When no endpoint is available the balancer spreads over all
 * of them (panic mode); only an empty set fails, with `NoHealthyEndpointError`.
 *
 * @example
 * const balancer = loadBalancer({ endpoints: ['http://10.0.0.1:8080', 'http://10.0.0.2:8080'], strategy: 'p2c-ewma' });
 * const client = compose().use(retry()).use(balancer).use(circuitBreaker()).build();
 * await client.get('/items'); // to one of the two
 * await client.close();       // stops the balancer's health checks too
 */
export function loadBalancer(options: LoadBalancerOptions): LoadBalancerMiddleware {
  const resolved = parseOptions(loadBalancerOptionsSchema, options, 'loadBalancer');
  const clock = resolved.clock ?? realClock;
  const log = resolved.logger ?? silentLogger;
  const decayMs = resolved.ewmaDecayMs;
  const pick = createPicker(resolved.strategy, decayMs);
  const ejected = new Listeners<EjectEvent>('loadBalancer', 'onEject');
  const readmitted = new Listeners<ReadmitEvent>('loadBalancer', 'onReadmit');
  const healthChanged = new Listeners<HealthChangeEvent>('loadBalancer', 'onHealthChange');
  const endpointsChanged = new Listeners<EndpointsChangeEvent>('loadBalancer', 'onEndpointsChange');
  const discoveryFailed = new Listeners<DiscoveryErrorEvent>('loadBalancer', 'onDiscoveryError');

  const readmit = (endpoint: Endpoint, reason: ReadmitEvent['reason']): void => {
    log.info({ endpoint: endpoint.url, reason }, 'loadBalancer: endpoint readmitted');
    readmitted.emit({ endpoint: endpoint.url, reason }, log);
  };
  const pool = new EndpointPool(resolved.panicThresholdPercent, (endpoint) => readmit(endpoint, 'timeout'));
  const outliers = new OutlierDetector(resolved.outlierDetection, pool, (event) => {
    log.warn(event, 'loadBalancer: endpoint ejected');
    ejected.emit(event, log);
  });

  const healthOptions = resolved.healthCheck;
  const checker =
    healthOptions === undefined
      ? undefined
      : new HealthChecker(healthOptions, clock, log, (endpoint, result) => {
          if (endpoint.removed) return;
          const verdict = applyProbe(endpoint, result, healthOptions, clock.now());
          if (verdict.healthChanged) {
            pool.invalidate();
            log.warn({ endpoint: endpoint.url, healthy: endpoint.healthy, status: result.status, err: result.error }, 'loadBalancer: health changed');
            healthChanged.emit({ endpoint: endpoint.url, healthy: endpoint.healthy, status: result.status, error: result.error }, log);
          }
          if (verdict.readmit) {
            pool.invalidate();
            readmit(endpoint, 'health-check');
          }
        });

  let discoveryError: unknown;
  const discovery = startDiscovery(
    resolved.endpoints,
    {
      apply(list) {
        const change = pool.replace(toDefinitions(parseOptions(endpointListSchema, list, 'loadBalancer.endpoints')));
        discoveryError = undefined;
        for (const endpoint of change.removed) checker?.unwatch(endpoint);
        for (const endpoint of change.added) checker?.watch(endpoint);
        if (change.added.length + change.removed.length > 0) {
          endpointsChanged.emit({
            endpoints: pool.all.map((e) => e.url),
            added: change.added.map((e) => e.url),
            removed: change.removed.map((e) => e.url),
          }, log);
        }
      },
      error(error) {
        discoveryError = error;
        log.warn({ err: error }, 'loadBalancer: endpoint discovery failed; the last set stays');
        discoveryFailed.emit({ error }, log);
      },
    },
    clock,
    resolved.refreshIntervalMs ?? defaultRefreshMs,
  );

  const noEndpoint = (ctx: BalancedContext, path: string): NoHealthyEndpointError =>
    new NoHealthyEndpointError({ request: { method: ctx.request.method, url: path }, cause: discoveryError });

  // The success path: one URL, one record, one `then`.
  function send(ctx: BalancedContext, next: Next, endpoint: Endpoint, path: string, now: number, picks: number, tried: ReadonlySet<string>): Promise<Response> {
    const target = new URL(endpoint.url + path);
    ctx.request.url = target;
    const record: EndpointRecord = { url: endpoint.url, metadata: endpoint.metadata, path, target: target.href, picks, tried, panic: pool.panic };
    ctx.endpoint = record;
    endpoint.inFlight++;
    endpoint.requests++;
    return next().then(
      (response) => {
        endpoint.inFlight--;
        const end = ctx.clock.now();
        endpoint.observe(end - now, end, decayMs);
        if (response.status >= 500) outliers.failure(endpoint, end);
        else endpoint.consecutiveFailures = 0;
        return response;
      },
      (error: unknown) => failed(ctx, next, record, endpoint, now, error),
    );
  }

  function failed(ctx: BalancedContext, next: Next, record: EndpointRecord, endpoint: Endpoint, start: number, error: unknown): Promise<Response> {
    endpoint.inFlight--;
    const end = ctx.clock.now();
    const wait = openCircuitWait(error);
    if (wait !== undefined) {
      // Refused before the network: not the endpoint's failure. Out of choice while the circuit is open.
      if (wait > 0) {
        endpoint.unavailableUntil = Math.max(endpoint.unavailableUntil, end + wait);
        pool.invalidate();
      }
      const other = repick(ctx, next, record, true);
      if (other !== undefined) return other;
    } else if (isEndpointFailure(error)) {
      // A failure never makes an endpoint look faster than it was.
      if (end - start > endpoint.ewma) endpoint.observe(end - start, end, decayMs);
      outliers.failure(endpoint, end);
    }
    return Promise.reject(error);
  }

  function first(ctx: BalancedContext, next: Next, path: string): Promise<Response> {
    const now = ctx.clock.now();
    const candidates = pool.candidates(now);
    const n = candidates.length;
    if (n === 0) return Promise.reject(noEndpoint(ctx, path));
    return send(ctx, next, n === 1 ? (candidates[0] as Endpoint) : pick(candidates, now), path, now, 1, nothingTried);
  }

  // Another attempt of a request: avoid the endpoints it went to. `strict`: only an endpoint not tried yet will do.
  function repick(ctx: BalancedContext, next: Next, prior: EndpointRecord, strict: boolean): Promise<Response> | undefined {
    const now = ctx.clock.now();
    const tried = new Set(prior.tried);
    tried.add(prior.url);
    const candidates = pool.candidates(now);
    let choice: readonly Endpoint[] = candidates.filter((endpoint) => !tried.has(endpoint.url));
    if (choice.length === 0) {
      if (strict) return undefined;
      choice = candidates;
    }
    if (choice.length === 0) return Promise.reject(noEndpoint(ctx, prior.path));
    const endpoint = choice.length === 1 ? (choice[0] as Endpoint) : pick(choice, now);
    return send(ctx, next, endpoint, prior.path, now, prior.picks + 1, tried);
  }

  const middleware = defineMiddleware<{}, { endpoint: EndpointContext }>(
    function loadBalancer(ctx, next) {
      const url = ctx.request.url;
      const prior = ctx.endpoint as EndpointRecord | undefined;
      // The URL this balancer set for an earlier attempt (a retry outside, a hedge's fork): pick again.
      if (prior !== undefined && prior.target === url.href) return repick(ctx, next, prior, false) as Promise<Response>;
      let path: string;
      if (isPathOnly(url)) path = url.pathname + url.search;
      else {
        const match = pool.match(url);
        if (match === undefined) return next();
        path = match.path;
      }
      const ready = discovery.ready;
      if (ready !== undefined) return waitForEndpoints(ctx, ready).then(() => first(ctx, next, path));
      return first(ctx, next, path);
    },
    {
      name: 'loadBalancer',
      options: resolved,
      close: async () => {
        discovery.close();
        await checker?.close();
      },
    },
  ) as LoadBalancerMiddleware;

  Object.defineProperties(middleware, {
    stats: { value: (): EndpointStats[] => endpointStats(pool.all, clock.now()), enumerable: true },
    refresh: { value: () => discovery.refresh(), enumerable: true },
    onEject: { value: (listener: (event: EjectEvent) => void) => ejected.add(listener), enumerable: true },
    onReadmit: { value: (listener: (event: ReadmitEvent) => void) => readmitted.add(listener), enumerable: true },
    onHealthChange: { value: (listener: (event: HealthChangeEvent) => void) => healthChanged.add(listener), enumerable: true },
    onEndpointsChange: { value: (listener: (event: EndpointsChangeEvent) => void) => endpointsChanged.add(listener), enumerable: true },
    onDiscoveryError: { value: (listener: (event: DiscoveryErrorEvent) => void) => discoveryFailed.add(listener), enumerable: true },
  });
  return middleware;
}
