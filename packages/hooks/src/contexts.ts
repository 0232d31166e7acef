import { type BaseContext, type BodySource, type CacheMode, type HeadersInput, type RedirectMode, RequestBody } from '@shallot/core';

/** What a pre-request hook can read of the request's settings besides the method, URL and headers. */
export interface RequestHookOptions {
  /** The body as it will be sent, or `null`. Replace it with `updatePayload()`. */
  readonly body: RequestBody | null;
  /** The fetch cache mode. */
  readonly cache: CacheMode;
  /** What the transport does with redirects. */
  readonly redirect: RedirectMode;
  /** Milliseconds left before the request's deadline, or `undefined` when it has none. */
  readonly timeoutMs: number | undefined;
}

function assertResponse(value: unknown, what: string): asserts value is Response {
  if (!(value instanceof Response)) throw new TypeError(`${what}: expected a Response, got ${value === null ? 'null' : typeof value}`);
}

function eachHeader(input: HeadersInput | Record<string, string | null | undefined>, visit: (name: string, value: string | null | undefined) => void): void {
  if (input instanceof Headers) {
    input.forEach((value, name) => visit(name, value));
    return;
  }
  if (Symbol.iterator in input) {
    for (const [name, value] of input as Iterable<readonly [string, string]>) visit(name, value);
    return;
  }
  for (const [name, value] of Object.entries(input as Record<string, string | readonly string[] | null | undefined>)) {
    visit(name, Array.isArray(value) ? value.join(', ') : (value as string | null | undefined));
  }
}

/**
 * What a pre-request hook gets (and what post-response and error hooks find as
 * `requestContext`): the request as it is about to go through the inner layers. Changes are made
 * to the request itself, so every inner layer (per-endpoint timeouts, limits, breaker, auth)
 * sees the new URL and headers. The caller's own headers object is never changed: the client
 * copied it.
 */
export class RequestContext {
  readonly #ctx: BaseContext;
  #response: Response | undefined;
  /**
   * Free-form state shared by the hooks of one request: what a pre-request hook stores here
   * (a start time, a span id) a post-response or error hook of the same request finds.
   */
  readonly state: Record<string, unknown> = {};

  /** @internal made by the `hooks()` layer, one per request */
  constructor(ctx: BaseContext) {
    this.#ctx = ctx;
  }

  /** The request's id (the same as `ctx.id` in every layer). */
  get id(): string {
    return this.#ctx.id;
  }

  /** The upper-case method; assigning changes it. */
  get method(): string {
    return this.#ctx.request.method;
  }

  set method(method: string) {
    if (typeof method !== 'string' || method === '') throw new TypeError('RequestContext.method: expected a non-empty string');
    this.#ctx.request.method = method.toUpperCase();
  }

  /** The absolute URL, as a string. */
  get url(): string {
    return this.#ctx.request.url.href;
  }

  /** The request headers, live: `headers.set()` changes what is sent. */
  get headers(): Headers {
    return this.#ctx.request.headers;
  }

  /** The request's other settings. */
  get options(): RequestHookOptions {
    const ctx = this.#ctx;
    const { body, cache, redirect } = ctx.request;
    return { body, cache, redirect, timeoutMs: ctx.deadline === undefined ? undefined : ctx.remainingMs() };
  }

  /** The response given to `respondWith()`, if any. */
  get response(): Response | undefined {
    return this.#response;
  }

  /**
   * Sends the request to another URL: absolute, or relative to the current one. Every inner layer
   * follows the new host: its endpoint's timeouts, limits and breaker, and its credentials.
   *
   * @example
   * ctx.updateUrl(ctx.url.replace('api.primary.example', 'api.fallback.example'));
   */
  updateUrl(url: string | URL): void {
    this.#ctx.request.url = new URL(String(url), this.#ctx.request.url);
  }

  /**
   * Sets headers (a record, a `Headers` or pairs); a `null` or `undefined` value in a record
   * removes that header.
   *
   * @example
   * ctx.updateHeaders({ 'X-Request-ID': randomUUID(), 'X-Debug': null });
   */
  updateHeaders(headers: HeadersInput | Record<string, string | null | undefined>): void {
    const target = this.#ctx.request.headers;
    eachHeader(headers, (name, value) => {
      if (value === null || value === undefined) target.delete(name);
      else target.set(name, value);
    });
  }

  /**
   * Replaces the body: `{ json }` serialises a value (and sets `content-type:
   * application/json`), `{ body }` takes any body fetch takes (`null` removes it).
   */
  updatePayload(payload: { body: BodySource | null } | { json: unknown }): void {
    const request = this.#ctx.request;
    const body = 'json' in payload ? RequestBody.json(payload.json) : RequestBody.from(payload.body);
    request.body = body;
    if (body?.contentType !== undefined) request.headers.set('content-type', body.contentType);
    else if (body === null) request.headers.delete('content-type');
  }

  /**
   * Answers the request with `response`: no inner layer runs and nothing is sent. Later
   * pre-request hooks are skipped; post-response hooks see it (with `fromHook: true`).
   *
   * @example
   * const hit = cache.get(ctx.url);
   * if (hit !== undefined) ctx.respondWith(new Response(hit.body, { status: 200, headers: hit.headers }));
   */
  respondWith(response: Response): void {
    assertResponse(response, 'respondWith');
    this.#response = response;
  }
}

/** What a post-response hook gets. */
export class ResponseContext {
  #response: Response;
  #modified = false;
  /** The request, as pre-request hooks left it (with their `state`). */
  readonly requestContext: RequestContext;
  /** True when a pre-request hook answered with `respondWith()` and nothing was sent. */
  readonly fromHook: boolean;

  /** @internal made by the `hooks()` layer */
  constructor(response: Response, requestContext: RequestContext, fromHook: boolean) {
    this.#response = response;
    this.requestContext = requestContext;
    this.fromHook = fromHook;
  }

  /** The response the caller will get; assigning replaces it (and marks it modified). */
  get response(): Response {
    return this.#response;
  }

  set response(response: Response) {
    assertResponse(response, 'ResponseContext.response');
    this.#response = response;
    this.#modified = true;
  }

  /** True once a hook replaced the response or called `markModified()`. */
  get modified(): boolean {
    return this.#modified;
  }

  /** Records that a hook changed the response. */
  markModified(): void {
    this.#modified = true;
  }
}

/** What an error hook gets. */
export class ErrorContext {
  /**
   * What the inner layers threw: a `NetworkError`, `TimeoutError`, `CircuitBreakerOpenError`,
   * `RateLimitExceededError`, `MaxRetriesExceededError`... and, with `throwHttpErrors`, an
   * `HttpError` whose `response` is the 4xx/5xx response.
   */
  readonly error: unknown;
  /** The request, as pre-request hooks left it (with their `state`). */
  readonly requestContext: RequestContext;
  /** How many times this request was already re-sent because an error hook handled an error. */
  readonly resends: number;
  /**
   * Set it to true to stop the error hooks after this one. With a fallback response the caller
   * gets that response; without one the request is sent again (up to `maxHookRetries` times).
   */
  handled = false;
  #fallback: Response | undefined;

  /** @internal made by the `hooks()` layer */
  constructor(error: unknown, requestContext: RequestContext, resends: number) {
    this.error = error;
    this.requestContext = requestContext;
    this.resends = resends;
  }

  /** The response the caller gets instead of the error, once a hook set one. */
  get fallbackResponse(): Response | undefined {
    return this.#fallback;
  }

  /** Answers the caller with `response` instead of the error, and marks the error handled. */
  setFallbackResponse(response: Response): void {
    assertResponse(response, 'setFallbackResponse');
    this.#fallback = response;
    this.handled = true;
  }
}
