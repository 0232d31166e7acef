import { z } from 'zod';
import { RequestBody } from './body.js';
import { type Clock, realClock } from './clock.js';
import { type BaseContext, type CacheMode, type Context, createContext, type RedirectMode, scopeOf, type TransportHook } from './context.js';
import {
  applySearchParams,
  checkMethod,
  checkRequestHeaders,
  checkRequestOptions,
  type HeadersInput,
  type RequestOptions,
  resolveUrl,
  toHeaders,
} from './request-options.js';
import { withTimeout } from './deadline.js';
import { ClientClosedError } from './errors.js';
import { httpErrorWithBody } from './http-error-body.js';
import { LazyResponse, type ShallotResponse, withSchemaJson } from './response.js';
import { type Logger, silentLogger } from './logger.js';
import { credentialHeaderSet } from './credentials.js';
import { redactingLogger } from './redacting-logger.js';
import { createRunner, flattenLayers, type Middleware, middlewareName, type Terminal } from './middleware.js';
import { parseOptions } from './parse-options.js';
import { abortReason, neverAbortSignal } from './signals.js';
import type { Transport } from './transport.js';
import { moveUrlCredentials } from './url-credentials.js';
import { undiciTransport } from './undici-transport.js';

const schemaOf = <T>(check: (value: unknown) => boolean, message: string) => z.custom<T>(check, { message });
const isObject = (value: unknown): boolean => typeof value === 'object' && value !== null;

/** Options of `build()`. */
export const clientOptionsSchema = z.strictObject({
  /** The core dispatcher. @default undiciTransport() */
  transport: schemaOf<Transport>((v) => isObject(v) && typeof (v as Transport).send === 'function', 'expected a Transport (an object with send() and close())').optional(),
  /** Prefix for relative URLs: a path is appended to its path. */
  baseUrl: z.union([z.string().url(), z.instanceof(URL)]).optional(),
  /** Headers sent with every request (a request's own win). */
  headers: schemaOf<HeadersInput>(isObject, 'expected headers (an object, a Headers or a list of pairs)').optional(),
  /** Turn 4xx/5xx responses into `HttpError`. @default false */
  throwHttpErrors: z.boolean().default(false),
  /** A pino-compatible logger. @default silent */
  logger: schemaOf<Logger>((v) => isObject(v) && typeof (v as Logger).debug === 'function', 'expected a pino-compatible logger').optional(),
  /** The clock every layer uses. @default the real clock */
  clock: schemaOf<Clock>((v) => isObject(v) && typeof (v as Clock).now === 'function', 'expected a Clock').optional(),
  /** A `total` timeout for every request. */
  timeoutMs: z.number().positive().optional(),
  /** Follow redirects from https to http (refused with `NetworkError` otherwise). @default false */
  allowInsecureRedirect: z.boolean().default(false),
  /**
   * Header names that carry credentials, added to the built-in list (`authorization`, `cookie`,
   * `proxy-authorization` and the common API-key headers): dropped by redirects that leave the
   * origin, partitioned by caches, redacted in logs and errors.
   */
  credentialHeaders: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name')).optional(),
  /** Bound on every decoded response body, in bytes (`ResponseTooLargeError` past it); a request's own wins. */
  maxResponseBytes: z.number().int().positive().optional(),
});

/** What users pass to `build()`. */
export type ClientOptions = z.input<typeof clientOptionsSchema>;

/** One entry of `describe()`. */
export interface LayerDescription {
  /** `middleware` for a layer, `transport` for the dispatcher at the centre. */
  readonly kind: 'middleware' | 'transport';
  /** The layer's name (`retry`), or the transport's (`undici`). */
  readonly name: string;
  /** The resolved options. */
  readonly options: unknown;
}

/** A response with the context it was made under. */
export interface Exchange<P extends object> {
  readonly response: ShallotResponse;
  readonly context: Context<P>;
}

/** An HTTP client: the onion built by `compose()`. */
export interface Client<P extends object = {}> extends AsyncDisposable {
  /** fetch's signature: a URL (absolute, or relative to `baseUrl`) or a `Request`. */
  fetch(input: string | URL | Request, init?: RequestOptions): Promise<ShallotResponse>;
  /** Sends `method` to `url`. */
  request(method: string, url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  /** Like `request`, and also hands back the context, typed with every layer's key. */
  exchange(method: string, url: string | URL, init?: RequestOptions): Promise<Exchange<P>>;
  get(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  head(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  options(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  delete(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  post(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  put(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  patch(url: string | URL, init?: RequestOptions): Promise<ShallotResponse>;
  /** The layers, outermost first, then the transport, with their resolved options. */
  describe(): LayerDescription[];
  /** The transport at the centre. */
  readonly transport: Transport;
  /** True once `close()` was called. */
  readonly closed: boolean;
  /** Closes every layer that holds resources, then the transport; later requests reject. */
  close(): Promise<void>;
}

/**
 * What `.use()` asks of a middleware whose required context keys no earlier layer provides: the
 * compile error names the keys (`Property '"missing context keys: use first the layers that provide"'
 * is missing ... "circuitBreaker"`).
 */
type MissingContext<K> = { readonly 'missing context keys: use first the layers that provide': K };

/** The immutable builder returned by `compose()`; each `.use()` returns a new builder. */
export interface Builder<P extends object = {}> {
  /**
   * Adds a layer inside the ones added before (outermost first). A middleware that requires
   * context keys can only be added after the middlewares that provide them.
   */
  use<R extends object = P, Q extends object = {}>(
    middleware: Middleware<R, Q> & (Context<P> extends R ? unknown : MissingContext<Exclude<keyof R, keyof Context<P>>>),
  ): Builder<P & Q>;
  /** The middlewares added so far, outermost first. */
  readonly middlewares: readonly Middleware<any, any>[];
  /** Builds the client around a transport (`undiciTransport()` unless given). */
  build(options?: ClientOptions): Client<P>;
}

function builder<P extends object>(middlewares: readonly Middleware<any, any>[]): Builder<P> {
  return {
    middlewares,
    use(middleware: Middleware<any, any>) {
      if (typeof middleware !== 'function') {
        throw new TypeError(`compose().use(): expected a middleware function, got ${middleware === null ? 'null' : typeof middleware}`);
      }
      return builder([...middlewares, middleware]);
    },
    build(options?: ClientOptions) {
      return buildClient<P>(middlewares, options);
    },
  } as unknown as Builder<P>;
}

/**
 * Starts a client stack: `.use()` middlewares outermost first, then `.build()` around a
 * transport.
 *
 * @example
 * const client = compose()
 *   .use(timeout({ totalMs: 10_000 }))
 *   .use(retry({ maxAttempts: 4 }))
 *   .build({ baseUrl: 'https://api.example.com' });
 * const items = await (await client.get('items', { searchParams: { page: 2 } })).json();
 */
export function compose(): Builder<{}> {
  return builder<{}>([]);
}

function runTransportHooks(ctx: BaseContext, hooks: readonly TransportHook[], send: (ctx: BaseContext) => Promise<Response>): Promise<Response> {
  const step = (i: number): Promise<Response> => {
    const hook = hooks[i];
    if (hook === undefined) return send(ctx);
    let called = false;
    return hook(ctx, () => {
      if (called) return Promise.reject(new TypeError('a transport hook called send() twice'));
      called = true;
      return step(i + 1);
    });
  };
  return step(0);
}

function buildClient<P extends object>(middlewares: readonly Middleware<any, any>[], options: ClientOptions = {}): Client<P> {
  const resolved = parseOptions(clientOptionsSchema, options, 'build');
  const layers = flattenLayers(middlewares);
  const run = createRunner(layers);
  const transport = resolved.transport ?? undiciTransport();
  const send = (ctx: BaseContext): Promise<Response> => transport.send(ctx);
  const terminal: Terminal = (ctx) => (ctx.transportHooks === undefined ? send(ctx) : runTransportHooks(ctx, ctx.transportHooks, send));
  const clock = resolved.clock ?? realClock;
  // Every line the layers log goes through redaction: no secret reaches a plain logger.
  const log = resolved.logger === undefined ? silentLogger : redactingLogger(resolved.logger);
  const defaultHeaders = resolved.headers === undefined ? undefined : toHeaders(resolved.headers);
  const base = resolved.baseUrl === undefined ? undefined : new URL(String(resolved.baseUrl).replace(/\/*$/, '/'));
  const credentialHeaders = credentialHeaderSet(resolved.credentialHeaders);
  let closed = false;

  function makeContext(method: string, input: string | URL, init: RequestOptions): Context<P> {
    checkRequestOptions(init);
    const verb = checkMethod(method);
    const url = resolveUrl(input, base);
    if (init.searchParams !== undefined) applySearchParams(url, init.searchParams);
    const headers = toHeaders(init.headers);
    if (init.headers !== undefined) checkRequestHeaders(headers);
    if (defaultHeaders !== undefined) {
      defaultHeaders.forEach((value, name) => {
        if (!headers.has(name)) headers.set(name, value);
      });
    }
    let body: RequestBody | null = null;
    if (init.json !== undefined) {
      body = RequestBody.json(init.json);
      if (!headers.has('accept')) headers.set('accept', 'application/json');
    }
    else if (init.body !== undefined && init.body !== null) body = RequestBody.from(init.body);
    if (body?.contentType !== undefined && !headers.has('content-type')) headers.set('content-type', body.contentType);
    moveUrlCredentials(url, headers);
    const ctx = createContext({
      request: {
        method: verb,
        url,
        headers,
        body,
        cache: init.cache ?? 'default',
        redirect: init.redirect ?? 'follow',
        allowInsecureRedirect: init.allowInsecureRedirect ?? resolved.allowInsecureRedirect,
        maxResponseBytes: init.maxResponseBytes ?? resolved.maxResponseBytes,
        onUploadProgress: init.onUploadProgress,
        onDownloadProgress: init.onDownloadProgress,
      },
      signal: init.signal ?? neverAbortSignal,
      clock,
      tls: init.tls,
      log,
      credentialHeaders,
    });
    return ctx as Context<P>;
  }

  // One async step per call: the onion's promise, then the throwHttpErrors check.
  async function dispatch(ctx: Context<P>, timeoutMs: number | undefined, throwHttpErrors: boolean): Promise<ShallotResponse> {
    const root = scopeOf(ctx);
    try {
      const response = await (timeoutMs === undefined ? run(ctx, terminal) : withTimeout(ctx, timeoutMs, 'total', () => run(ctx, terminal)));
      if (throwHttpErrors && response.status >= 400) throw await httpErrorWithBody(response, ctx.request);
      return (response instanceof LazyResponse ? response : withSchemaJson(response)) as ShallotResponse;
    } finally {
      // A signal some layer made from the caller's is unlinked from it: nothing stays on a
      // long-lived caller signal once the call is over.
      if (!root.inert) root.end();
    }
  }

  function start(method: string, input: string | URL, init: RequestOptions): Context<P> {
    if (closed) throw new ClientClosedError({ request: { method, url: String(input) } });
    const signal = init.signal;
    if (signal?.aborted === true) throw abortReason(signal);
    return makeContext(method, input, init);
  }

  function request(method: string, input: string | URL, init: RequestOptions = {}): Promise<ShallotResponse> {
    try {
      const ctx = start(method, input, init);
      return dispatch(ctx, init.timeoutMs ?? resolved.timeoutMs, init.throwHttpErrors ?? resolved.throwHttpErrors);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async function exchange(method: string, input: string | URL, init: RequestOptions = {}): Promise<Exchange<P>> {
    const ctx = start(method, input, init);
    const response = await dispatch(ctx, init.timeoutMs ?? resolved.timeoutMs, init.throwHttpErrors ?? resolved.throwHttpErrors);
    return { response, context: ctx };
  }

  async function fetchLike(input: string | URL | Request, init: RequestOptions = {}): Promise<ShallotResponse> {
    if (!(input instanceof Request)) return request(init.method ?? 'GET', input, init);
    // A Request's body is a one-shot stream: read it once so retries can re-send it.
    const body = init.body !== undefined || init.json !== undefined || input.body === null ? init.body : new Uint8Array(await input.arrayBuffer());
    return request(init.method ?? input.method, input.url, {
      cache: input.cache as CacheMode,
      redirect: input.redirect as RedirectMode,
      signal: input.signal,
      ...init,
      headers: init.headers ?? input.headers,
      body,
    });
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    const closers = layers.filter((layer) => layer.close !== undefined);
    await Promise.allSettled(closers.map(async (layer) => layer.close?.()));
    await transport.close();
  }

  const client: Client<P> = {
    fetch: fetchLike,
    request,
    exchange,
    get: (url, init) => request('GET', url, init),
    head: (url, init) => request('HEAD', url, init),
    options: (url, init) => request('OPTIONS', url, init),
    delete: (url, init) => request('DELETE', url, init),
    post: (url, init) => request('POST', url, init),
    put: (url, init) => request('PUT', url, init),
    patch: (url, init) => request('PATCH', url, init),
    describe: () => [
      ...layers.map((layer) => ({ kind: 'middleware' as const, name: middlewareName(layer), options: layer.layer?.options })),
      { kind: 'transport' as const, name: transport.name, options: transport.options },
    ],
    transport,
    get closed() {
      return closed;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return client;
}
