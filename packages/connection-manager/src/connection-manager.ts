import { auth, type AuthContext, type AuthMiddleware, type AuthScheme, type AuthType, type EndpointAuthValues, type TokenSource } from '@shallot/auth';
import type { CircuitBreakerContext, CircuitStateChange } from '@shallot/circuit-breaker';
import type { RateLimitContext } from '@shallot/rate-limit';
import type { RetryContext } from '@shallot/retry';
import {
  type Builder,
  type Client,
  compose,
  endpointPatternProblem,
  InvalidOptionsError,
  type LayerDescription,
  parseOptions,
  redactingLogger,
  type RequestOptions,
} from '@shallot/core';
import { type ErrorHook, type HookList, HookRegistry, type HookRegistration, hooks, type HookTypeName, type PostResponseHook, type PreRequestHook } from '@shallot/hooks';
import { metrics, type MetricsMiddleware, requestId, tracing } from '@shallot/tracing';
import { z } from 'zod';
import { type BatchItem, type BatchOptions, runBatch } from './batch.js';
import { EndpointRouter } from './endpoint-router.js';
import { LayerCache } from './endpoint-stack.js';
import {
  clientCertificateSchema,
  type ConnectionManagerOptions,
  connectionManagerOptionsSchema,
  type EndpointConfig,
  endpointConfigSchema,
  type EndpointSettings,
  verifySchema,
} from './options.js';
import { makeTransport, naming, schemeOf, settingsOf } from './option-mapping.js';
import { requestLog } from './request-log.js';
import { collectStats, type ConnectionManagerStats } from './stats.js';

/**
 * The context keys a request through a connection manager may carry (each endpoint's stack
 * decides which of its layers run: an endpoint with `maxRetries: 0` has no `retry`).
 */
export interface ConnectionManagerContext {
  retry?: RetryContext;
  rateLimit?: RateLimitContext;
  circuitBreaker?: CircuitBreakerContext;
  auth?: AuthContext;
}

/** A circuit's state change, with the endpoint whose breaker it belongs to. */
export interface EndpointCircuitStateChange extends CircuitStateChange {
  /** `(default)`, or the endpoint pattern. */
  readonly endpoint: string;
}

type ParsedEndpointConfig = z.output<typeof endpointConfigSchema>;

const timeoutsSchema = z.strictObject({
  connectMs: z.number().positive().finite().optional(),
  readMs: z.number().positive().finite().optional(),
});

function patternOf(pattern: unknown, method: string): string {
  const problem = typeof pattern === 'string' ? endpointPatternProblem(pattern) : 'expected a string';
  if (problem !== undefined) throw new InvalidOptionsError(`${method}.pattern: ${problem}`);
  return pattern as string;
}

/**
 * requests-connection-manager's `ConnectionManager`, kept to every promise its docs make: a
 * client with connection pooling, retries with backoff, rate limits, circuit breakers,
 * timeouts, credentials and TLS, configured globally and per endpoint, with pre-request,
 * post-response and error hooks, batch requests and statistics.
 *
 * It holds no feature logic of its own: it is a `compose()` of shallot's middlewares, and
 * `describe()` lists them. Outermost first: `requestId` and `tracing` (when asked for),
 * `requestLog` (with a logger), `hooks`, your `middlewares`, `metrics` (what `getStats()`
 * reads, kept for the host a request really goes to), then `endpoints`, which sends each request through the stack of the most
 * specific endpoint pattern covering its URL: `timeout` (total, connect, read), `auth`, `retry`,
 * `rateLimit`, `circuitBreaker` (one circuit per host), `timeout` (attempt) and `tls`.
 * Durations are milliseconds (`timeoutMs`, `backoffFactorMs`...).
 *
 * @example
 * const manager = new ConnectionManager({
 *   maxRetries: 3, backoffFactorMs: 300, timeoutMs: 30_000,
 *   endpointConfigs: { 'api.primary.example': { circuitBreakerFailureThreshold: 3, timeoutMs: 10_000 } },
 *   bearerToken: () => tokens.current(),
 * });
 * try {
 *   const items = await (await manager.get('https://api.primary.example/items')).json();
 * } finally {
 *   await manager.close();
 * }
 */
export class ConnectionManager implements AsyncDisposable {
  readonly #registry = new HookRegistry();
  readonly #auth: AuthMiddleware;
  readonly #metrics: MetricsMiddleware = metrics();
  readonly #layers = new LayerCache();
  readonly #router: EndpointRouter;
  readonly #client: Client<ConnectionManagerContext>;
  readonly #configs = new Map<string, ParsedEndpointConfig>();
  readonly #breakerListeners = new Set<(change: EndpointCircuitStateChange) => void>();

  /** Validates `options` (`InvalidOptionsError` naming each bad path) and builds the stack. */
  constructor(options: ConnectionManagerOptions = {}) {
    const o = parseOptions(connectionManagerOptionsSchema, options, 'ConnectionManager');
    const endpoints: Record<string, AuthScheme> = {};
    for (const [pattern, config] of Object.entries(o.endpointConfigs)) {
      const scheme = schemeOf(config, o.apiKeyHeader);
      if (scheme !== undefined) endpoints[pattern] = scheme;
    }
    const global = schemeOf({ ...o, apiKeyHeader: undefined }) ?? {};
    this.#auth = naming('ConnectionManager', () => auth({ ...global, apiKeyHeader: o.apiKeyHeader, endpoints }));
    this.#router = naming('ConnectionManager', () => new EndpointRouter(settingsOf(o), { auth: this.#auth, onStateChange: (endpoint, change) => this.#emit(endpoint, change), layers: this.#layers }));
    for (const [pattern, config] of Object.entries(o.endpointConfigs)) {
      naming(`ConnectionManager.endpointConfigs.${pattern}`, () => this.#router.set(pattern, config));
      this.#configs.set(pattern, config);
    }

    let stack: Builder<any> = compose();
    if (o.requestId !== false) stack = stack.use(requestId(o.requestId === true ? {} : o.requestId));
    if (o.tracing !== false) stack = stack.use(tracing(o.tracing === true ? {} : o.tracing));
    if (o.logger !== undefined) stack = stack.use(requestLog());
    stack = stack.use(hooks(this.#registry, { throwHttpErrors: o.raiseForStatus, maxHookRetries: o.maxHookRetries }));
    for (const middleware of o.middlewares) stack = stack.use(middleware);
    // Inside the hooks and your layers: stats are kept for the host a request really went to.
    stack = stack.use(this.#metrics);
    this.#client = (stack.use(this.#router.middleware) as Builder<ConnectionManagerContext>).build({
      transport: makeTransport(o),
      ...(o.baseUrl === undefined ? {} : { baseUrl: o.baseUrl }),
      ...(o.headers === undefined ? {} : { headers: o.headers }),
      ...(o.logger === undefined ? {} : { logger: redactingLogger(o.logger) }),
    });
  }

  /**
   * A manager from JSON configuration (a JSON string, or the parsed object): the same options,
   * validated the same way; an unknown key is an `InvalidOptionsError` naming its path.
   *
   * @example
   * const manager = ConnectionManager.fromConfig(await readFile('connections.json', 'utf8'));
   */
  static fromConfig(config: string | Record<string, unknown>): ConnectionManager {
    let parsed: unknown = config;
    if (typeof config === 'string') {
      try {
        parsed = JSON.parse(config) as unknown;
      } catch (error) {
        throw new InvalidOptionsError(`ConnectionManager.fromConfig: not valid JSON (${(error as Error).message})`, { cause: error });
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new InvalidOptionsError(`ConnectionManager.fromConfig: expected a JSON object of options, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
    }
    return new ConnectionManager(parsed as ConnectionManagerOptions);
  }

  /** The client underneath (for `exchange()`, whose context carries `retry`, `rateLimit`, `circuitBreaker` and `auth`, and `fetch()`). */
  get client(): Client<ConnectionManagerContext> {
    return this.#client;
  }

  /** Sends `method` to `url`. `init` is fetch's `RequestInit` plus `json`, `searchParams`, `timeoutMs` (a bound on this whole call), `throwHttpErrors`. */
  request(method: string, url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request(method, url, init);
  }

  get(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('GET', url, init);
  }

  post(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('POST', url, init);
  }

  put(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('PUT', url, init);
  }

  patch(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('PATCH', url, init);
  }

  delete(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('DELETE', url, init);
  }

  head(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('HEAD', url, init);
  }

  options(url: string | URL, init?: RequestOptions): Promise<Response> {
    return this.#client.request('OPTIONS', url, init);
  }

  /** Adds a pre-request hook (see `@shallot/hooks`); returns `{ dispose() }`. */
  registerPreRequestHook(hook: PreRequestHook): HookRegistration {
    return this.#registry.registerPreRequestHook(hook);
  }

  /** Adds a post-response hook; returns `{ dispose() }`. */
  registerPostResponseHook(hook: PostResponseHook): HookRegistration {
    return this.#registry.registerPostResponseHook(hook);
  }

  /** Adds an error hook; returns `{ dispose() }`. */
  registerErrorHook(hook: ErrorHook): HookRegistration {
    return this.#registry.registerErrorHook(hook);
  }

  /** Removes a hook: `type` is `preRequest`, `postResponse` or `error` (or `pre_request`, `post_response`, `error_handler`). */
  unregisterHook(type: HookTypeName, hook: PreRequestHook | PostResponseHook | ErrorHook): boolean {
    return this.#registry.unregister(type, hook);
  }

  /** The registered hooks' function names, by type, in run order. */
  listHooks(): HookList {
    return this.#registry.list();
  }

  /**
   * Sets (or replaces) the settings of an endpoint pattern; the next request to a URL it covers
   * uses them. Keys it leaves out keep the manager's defaults. Credential keys replace the
   * global credentials for its URLs.
   */
  addEndpointConfig(pattern: string, config: EndpointConfig): void {
    const name = patternOf(pattern, 'addEndpointConfig');
    const parsed = parseOptions(endpointConfigSchema, config, `addEndpointConfig(${JSON.stringify(name)})`);
    naming(`addEndpointConfig(${JSON.stringify(name)})`, () => this.#router.set(name, parsed));
    const previous = this.#configs.get(name);
    this.#configs.set(name, parsed);
    const scheme = schemeOf(parsed, this.#router.defaults.apiKeyHeader);
    if (scheme !== undefined || (previous !== undefined && schemeOf(previous) !== undefined)) this.#auth.clearAuth(name);
    if (scheme !== undefined) this.#applyScheme(name, scheme);
  }

  /** Removes an endpoint pattern's settings (and the credentials they set); false when there were none. */
  removeEndpointConfig(pattern: string): boolean {
    const previous = this.#configs.get(pattern);
    if (previous === undefined) return false;
    this.#router.delete(pattern);
    this.#configs.delete(pattern);
    if (schemeOf(previous) !== undefined) this.#auth.clearAuth(pattern);
    return true;
  }

  /** The endpoint configs, by pattern, as given (copies). */
  getEndpointConfigs(): Record<string, EndpointConfig> {
    return Object.fromEntries([...this.#configs].map(([pattern, config]) => [pattern, { ...config }]));
  }

  /** Sets the global API key (in `headerName`, default the `apiKeyHeader` option). */
  setApiKey(apiKey: TokenSource, headerName?: string): void {
    this.#auth.setApiKey(apiKey, headerName);
  }

  /** Sets the global bearer token (replacing an OAuth2 token or basic auth). */
  setBearerToken(token: TokenSource): void {
    this.#auth.setBearerToken(token);
  }

  /** Sets the global OAuth2 access token (replacing a bearer token or basic auth). */
  setOAuth2Token(token: TokenSource): void {
    this.#auth.setOAuth2Token(token);
  }

  /** Sets global basic auth (replacing a bearer or OAuth2 token). */
  setBasicAuth(username: string, password: string): void {
    this.#auth.setBasicAuth(username, password);
  }

  /**
   * Sets one credential of an endpoint pattern: `apiKey` (`{ apiKey, headerName? }`), `bearer`
   * or `oauth2` (`{ token }`), `basic` (`{ username, password }`), or `none`.
   */
  setEndpointAuth(pattern: string, type: AuthType, values?: EndpointAuthValues): void {
    this.#auth.setEndpointAuth(pattern, type, values);
  }

  /** Removes an endpoint's credentials (its URLs get the global ones again), or the global credentials. */
  clearAuth(pattern?: string): void {
    this.#auth.clearAuth(pattern);
  }

  /** Sets the default connect and read timeouts (ms); endpoints that set their own keep them. */
  setTimeouts(timeouts: { connectMs?: number; readMs?: number }): void {
    const { connectMs, readMs } = parseOptions(timeoutsSchema, timeouts, 'setTimeouts');
    this.#setDefaults({
      ...(connectMs === undefined ? {} : { connectTimeoutMs: connectMs }),
      ...(readMs === undefined ? {} : { readTimeoutMs: readMs }),
    });
  }

  /** Sets the default server verification: `true`, `false`, or a CA bundle (PEM or file path) to trust alone. */
  setSslVerification(verify: boolean | string | Uint8Array): void {
    this.#setDefaults({ verify: parseOptions(verifySchema, verify, 'setSslVerification') });
  }

  /** Sets the default client certificate: a file with certificate and key, `[cert, key, passphrase?]` or `{ cert, key, passphrase? }`. */
  setClientCertificate(cert: z.input<typeof clientCertificateSchema>): void {
    this.#setDefaults({ cert: parseOptions(clientCertificateSchema, cert, 'setClientCertificate') });
  }

  /**
   * Sends many requests, at most `maxWorkers` at once, and resolves with their results in input
   * order: each a `Response` (its body already read into memory) or, with `returnExceptions`
   * (the default), the error it failed with. With `returnExceptions: false` it waits for all to
   * settle, then throws the failure with the lowest index. Items are `{ method, url, ...init }`
   * or `[method, url, init]`; a bad item is refused before anything is sent, naming its index.
   */
  batchRequest(items: readonly BatchItem[], options?: BatchOptions): Promise<Array<Response | Error>> {
    return runBatch((method, url, init) => this.#client.request(method, url, init), items, options);
  }

  /**
   * Requests made, errors, per-host status codes and latency percentiles (from the `metrics`
   * layer), every circuit's state, each endpoint's rate limit, the pool's usage and the hooks.
   */
  getStats(): ConnectionManagerStats {
    return collectStats(this.#metrics.snapshot(), this.#router.stacks(), this.#client.transport.stats?.(), this.#registry.list());
  }

  /** Listens to every circuit's state changes, on every endpoint. */
  onCircuitBreakerStateChange(listener: (change: EndpointCircuitStateChange) => void): { dispose(): void } {
    if (typeof listener !== 'function') throw new TypeError('onCircuitBreakerStateChange: expected a function');
    this.#breakerListeners.add(listener);
    return { dispose: () => void this.#breakerListeners.delete(listener) };
  }

  /** The onion, outermost first, then the transport; the `endpoints` layer lists each endpoint's stack. */
  describe(): LayerDescription[] {
    return this.#client.describe();
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#client.closed;
  }

  /** Closes every layer and the connection pools; later requests reject with `ClientClosedError`. */
  async close(): Promise<void> {
    await this.#client.close();
    await this.#layers.close();
  }

  /** `await using manager = new ConnectionManager()` closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #applyScheme(pattern: string, scheme: AuthScheme): void {
    if (scheme.apiKey !== undefined) this.#auth.setEndpointAuth(pattern, 'apiKey', { apiKey: scheme.apiKey, ...(scheme.apiKeyHeader === undefined ? {} : { headerName: scheme.apiKeyHeader }) });
    if (scheme.bearer !== undefined) this.#auth.setEndpointAuth(pattern, 'bearer', { token: scheme.bearer });
    if (scheme.oauth2 !== undefined) this.#auth.setEndpointAuth(pattern, 'oauth2', { token: scheme.oauth2 });
    if (scheme.basic !== undefined) this.#auth.setEndpointAuth(pattern, 'basic', scheme.basic);
  }

  #setDefaults(change: Partial<EndpointSettings>): void {
    naming('ConnectionManager', () => this.#router.setDefaults({ ...this.#router.defaults, ...change }));
  }

  #emit(endpoint: string, change: CircuitStateChange): void {
    if (this.#breakerListeners.size === 0) return;
    const event: EndpointCircuitStateChange = { ...change, endpoint };
    for (const listener of this.#breakerListeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the breaker has already logged the change.
      }
    }
  }
}
