import type { AuthMiddleware } from '@shallot/auth';
import { circuitBreaker, type CircuitBreakerMiddleware, type CircuitStateChange } from '@shallot/circuit-breaker';
import { chain, type Middleware } from '@shallot/core';
import { tls, type TlsOptions } from '@shallot/mtls';
import { rateLimit, type RateLimitMiddleware } from '@shallot/rate-limit';
import { retry } from '@shallot/retry';
import { timeout } from '@shallot/timeout';
import type { EndpointSettings } from './options.js';

/** The layers one endpoint's requests go through, and the stateful ones `getStats()` reads. */
export interface EndpointStack {
  /** `default`, or the endpoint pattern. */
  readonly name: string;
  /** The settings it was built from. */
  readonly settings: EndpointSettings;
  /** The layers, as one middleware. */
  readonly middleware: Middleware;
  readonly breaker: CircuitBreakerMiddleware | undefined;
  readonly limiter: RateLimitMiddleware | undefined;
}

/** What every endpoint's stack shares. */
export interface StackContext {
  /** The one auth layer: it matches endpoint patterns itself, so credentials follow the URL. */
  readonly auth: AuthMiddleware;
  /** Called on every circuit state change of any endpoint. */
  readonly onStateChange: (endpoint: string, change: CircuitStateChange) => void;
  readonly layers: LayerCache;
}

const functionIds = new WeakMap<object, number>();
let nextFunctionId = 0;

/** A stable text for plain settings (functions by identity), so equal settings find the same layer. */
function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'function') return v;
    let id = functionIds.get(v);
    if (id === undefined) functionIds.set(v, (id = ++nextFunctionId));
    return `function#${id}`;
  });
}

/**
 * The layers built for each endpoint, by what they were built from. Rebuilding a stack after a
 * settings change re-uses every layer whose own settings did not change, so a circuit's state
 * and a limiter's bucket survive `setTimeouts()` or a new retry count.
 */
export class LayerCache {
  readonly #layers = new Map<string, Middleware<any, any>>();

  /** The layer of `endpoint` built from `descriptor`, made by `make` the first time. */
  get<M extends Middleware<any, any>>(endpoint: string, kind: string, descriptor: unknown, make: () => M): M {
    const key = `${endpoint}\u0000${kind}\u0000${stableKey(descriptor)}`;
    let layer = this.#layers.get(key);
    if (layer === undefined) this.#layers.set(key, (layer = make()));
    return layer as M;
  }

  /** Forgets (and closes) the layers of `endpoint` not in `keep`. */
  prune(endpoint: string, keep: readonly Middleware<any, any>[]): void {
    const prefix = `${endpoint}\u0000`;
    for (const [key, layer] of this.#layers) {
      if (!key.startsWith(prefix) || keep.includes(layer)) continue;
      this.#layers.delete(key);
      Promise.resolve(layer.close?.()).catch(() => {});
    }
  }

  /** Closes every layer. */
  async close(): Promise<void> {
    const layers = [...this.#layers.values()];
    this.#layers.clear();
    await Promise.allSettled(layers.map(async (layer) => layer.close?.()));
  }
}

/** The endpoint's settings: the defaults, with the keys the endpoint sets over them (`tls` merged). */
export function mergeSettings(defaults: EndpointSettings, own: Partial<EndpointSettings> | undefined): EndpointSettings {
  if (own === undefined) return defaults;
  const merged: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(own)) if (value !== undefined) merged[key] = value;
  if (own.tls !== undefined && defaults.tls !== undefined) merged.tls = { ...defaults.tls, ...own.tls };
  return merged as EndpointSettings;
}

/** The `tls()` options for the endpoint's `verify`, `cert` and `tls`, or `undefined` when it needs none. */
export function tlsOptionsFor(settings: EndpointSettings): TlsOptions | undefined {
  const out: TlsOptions = { ...settings.tls };
  const { verify, cert } = settings;
  if (verify === false) out.rejectUnauthorized = false;
  else if (verify !== true) out.ca = verify;
  if (cert !== undefined) {
    if (Array.isArray(cert)) {
      const [certificate, key, passphrase] = cert as [string | Uint8Array, string | Uint8Array, string?];
      Object.assign(out, { cert: certificate, key }, passphrase === undefined ? {} : { passphrase });
    } else if (typeof cert === 'object' && !(cert instanceof Uint8Array)) {
      Object.assign(out, cert);
    } else {
      // One file holding the certificate and its key, as requests' cert='client.pem'.
      Object.assign(out, { cert, key: cert });
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** urllib3's backoff: retry n waits `factor * 2 ** (n - 1)`, at most `max`. */
export function urllib3Backoff(factorMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, factorMs * 2 ** (attempt - 1));
}

/**
 * Builds one endpoint's layers, outermost first: the total timeout (with the connect and read
 * bounds the transport applies), auth, retry, the rate limiter (each attempt takes a token), the
 * circuit breaker (one circuit per host, or one for a URL-prefix endpoint), the attempt timeout
 * and TLS. Layers whose settings did not change since the last build are re-used.
 */
export function buildStack(name: string, isPrefix: boolean, settings: EndpointSettings, shared: StackContext): EndpointStack {
  const { layers } = shared;
  const s = settings;
  const list: Middleware<any, any>[] = [];
  if (s.timeoutMs !== null || s.connectTimeoutMs !== undefined || s.readTimeoutMs !== undefined) {
    const bounds = { totalMs: s.timeoutMs ?? undefined, connectMs: s.connectTimeoutMs, readMs: s.readTimeoutMs };
    list.push(layers.get(name, 'timeout', bounds, () => timeout(bounds)));
  }
  list.push(shared.auth);
  if (s.maxRetries > 0) {
    const d = { maxRetries: s.maxRetries, backoffFactorMs: s.backoffFactorMs, backoffMaxMs: s.backoffMaxMs, retryOnStatus: s.retryOnStatus };
    list.push(
      layers.get(name, 'retry', d, () =>
        retry({
          maxAttempts: d.maxRetries + 1,
          backoff: { kind: 'custom', delay: urllib3Backoff(d.backoffFactorMs, d.backoffMaxMs) },
          retryOnStatus: d.retryOnStatus,
        }),
      ),
    );
  }
  let limiter: RateLimitMiddleware | undefined;
  if (s.rateLimitRequests !== null) {
    const d = { limit: s.rateLimitRequests, intervalMs: s.rateLimitPeriodMs, mode: s.rateLimitMode, maxWaitMs: s.rateLimitMaxWaitMs, key: s.rateLimitKey, adaptive: s.rateLimitAdaptive };
    limiter = layers.get(name, 'rateLimit', d, () => rateLimit(d));
    list.push(limiter);
  }
  let breaker: CircuitBreakerMiddleware | undefined;
  if (s.circuitBreakerFailureThreshold !== null) {
    const d = { failureThreshold: s.circuitBreakerFailureThreshold, recoveryTimeoutMs: s.circuitBreakerRecoveryTimeoutMs };
    breaker = layers.get(name, 'circuitBreaker', d, () =>
      circuitBreaker({
        ...d,
        // A URL-prefix endpoint is one service: one circuit. Otherwise one per host.
        key: isPrefix ? () => name : 'host',
        onStateChange: (change) => shared.onStateChange(name, change),
      }),
    );
    list.push(breaker);
  }
  if (s.attemptTimeoutMs !== undefined) {
    const bounds = { attemptMs: s.attemptTimeoutMs };
    list.push(layers.get(name, 'attemptTimeout', bounds, () => timeout(bounds)));
  }
  const tlsOptions = tlsOptionsFor(s);
  if (tlsOptions !== undefined) list.push(layers.get(name, 'tls', tlsOptions, () => tls(tlsOptions)));
  layers.prune(name, list);
  return { name, settings, middleware: chain(...list), breaker, limiter };
}
