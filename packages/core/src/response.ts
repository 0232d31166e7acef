import { ResponseValidationError } from './errors.js';

/**
 * Where a {@link LazyResponse} reads its body from: a transport's own stream. Each read method
 * is called at most once, and only one of them.
 */
export interface ResponseSource {
  /** Builds the response headers; called once, on first access. */
  headers(): Headers;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The body as a web stream; called at most once, when `body` is first read. */
  stream(): ReadableStream<Uint8Array>;
  /** Discards the body and frees the connection. */
  dump(): Promise<void>;
}

/** What a {@link LazyResponse} is made of besides its source. */
export interface LazyResponseInit {
  status: number;
  statusText?: string | undefined;
  url: string;
  redirected?: boolean | undefined;
  /** True when the response has no body (HEAD, 204, 205, 304). */
  nullBody?: boolean | undefined;
  /** The HTTP version it came over (`1.1`, `2`), when the transport knows. */
  protocol?: string | undefined;
}

/**
 * A body nobody read frees its connection when the response is garbage-collected, as undici's
 * fetch does: the source is dumped (read to its end and dropped, so the socket is reused, or
 * closed past undici's dump limit). Reading or cancelling a body is still the way to free it at once.
 */
const unread = new FinalizationRegistry<ResponseSource>((source) => {
  source.dump().catch(() => {});
});

// Registering costs (measured: ~20 µs per response at concurrency 64, most of it in the
// collector), and nearly every body is read at once: responses are registered only if their
// body is still untouched a turn of the event loop after they were made, in one batch.
let fresh: LazyResponse[] = [];
let sweepScheduled = false;
function registerIfUnread(): void {
  const batch = fresh;
  fresh = [];
  sweepScheduled = false;
  for (const response of batch) response.registerIfUnread();
}

/**
 * What the client's methods resolve with: the global `Response` (whichever transport sent it),
 * whose `json()` also takes a schema and then validates and types the body.
 */
export interface ShallotResponse extends Response {
  /** The body as JSON; with a zod (or Standard Schema) schema, validated and typed. */
  json<T = any>(schema?: StandardSchema<T>): Promise<T>;
}

/** Anything with a `~standard` validator: zod 4 schemas, valibot, arktype... */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
  };
}

type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }> };

async function validate<T>(value: unknown, schema: StandardSchema<T>, url: string): Promise<T> {
  const result = await schema['~standard'].validate(value);
  if (result.issues === undefined) return result.value;
  const issues = result.issues.map((issue) => ({
    path: (issue.path ?? []).map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.'),
    message: issue.message,
  }));
  throw new ResponseValidationError(issues, { request: { method: 'GET', url } });
}

/**
 * Gives a Response that is not a {@link LazyResponse} (one a layer made: a cache hit, a
 * fallback) the same `json(schema)`, so a schema is never silently ignored.
 */
export function withSchemaJson(response: Response): Response {
  const json = response.json;
  Object.defineProperty(response, 'json', {
    value: <T>(schema?: StandardSchema<T>): Promise<T> =>
      schema === undefined ? (json.call(response) as Promise<T>) : json.call(response).then((value: unknown) => validate(value, schema, response.url)),
    configurable: true,
    writable: true,
  });
  return response;
}

/** The HTTP version a response came over (`1.1` or `2`), when its transport told. */
export function responseProtocol(response: Response): string | undefined {
  return response instanceof LazyResponse ? LazyResponse.protocolOf(response) : undefined;
}

const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/** True for statuses whose responses never carry a body. */
export function isNullBodyStatus(status: number): boolean {
  return nullBodyStatuses.has(status);
}

// The platform's Response typings declare its accessors as properties; extend it through an
// untyped alias so the accessors can be overridden, and declare the inherited members.
const PlatformResponse = Response as unknown as new (body: null, init: ResponseInit) => object;

/**
 * A global `Response` that reads its body lazily from the transport's own stream: `json()`,
 * `text()` and `arrayBuffer()` go straight to the transport; `headers` and `body` are built only
 * when asked for. It is `instanceof Response` and every member behaves as the Fetch standard says.
 * Measured: wrapping each body in a web stream and a plain Response costs about 40 % of raw
 * throughput at concurrency 64; this costs about 3 %.
 */
export class LazyResponse extends PlatformResponse implements Response {
  declare readonly statusText: string;
  declare readonly type: Response['type'];
  #source: ResponseSource | undefined;
  #headerSource: ResponseSource | undefined;
  #headers: Headers | undefined;
  // undefined: not made yet; null: the response has no body.
  #stream: ReadableStream<Uint8Array> | null | undefined;
  #used = false;
  #disturbed = false;
  readonly #url: string;
  readonly #redirected: boolean;
  readonly #status: number;
  readonly #protocol: string | undefined;
  #registered = false;

  constructor(source: ResponseSource | undefined, init: LazyResponseInit, headers?: Headers) {
    // The platform constructor takes 200-599 only; a server may send others (a 6xx), which
    // `status` still reports as sent.
    super(null, { status: init.status < 200 || init.status > 599 ? 200 : init.status, statusText: init.statusText ?? '' });
    this.#status = init.status;
    this.#url = init.url;
    this.#redirected = init.redirected ?? false;
    this.#headers = headers;
    this.#headerSource = headers === undefined ? source : undefined;
    if (source === undefined || init.nullBody === true) {
      this.#stream = null;
      if (source !== undefined) source.dump().catch(() => {});
    } else {
      this.#source = source;
      fresh.push(this);
      if (!sweepScheduled) {
        sweepScheduled = true;
        setImmediate(registerIfUnread);
      }
    }
    this.#protocol = init.protocol;
  }

  /** @internal Registers the body for release on garbage collection if nobody has taken it yet. */
  registerIfUnread(): void {
    const source = this.#source;
    if (source === undefined || this.#registered) return;
    this.#registered = true;
    unread.register(this, source, this);
  }

  /** @internal See {@link responseProtocol}. */
  static protocolOf(response: LazyResponse): string | undefined {
    return response.#protocol;
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      this.#headers = this.#headerSource === undefined ? new Headers() : this.#headerSource.headers();
      this.#headerSource = undefined;
    }
    return this.#headers;
  }

  get url(): string {
    return this.#url;
  }

  get redirected(): boolean {
    return this.#redirected;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#stream === undefined) {
      if (this.#source === undefined) {
        // Already read through a method: the spec's body is then a disturbed, empty stream.
        this.#stream = new ReadableStream({ start: (c) => c.close() });
      } else {
        if (this.#registered) unread.unregister(this);
        this.#stream = this.#watch(this.#source.stream());
        this.#source = undefined;
      }
    }
    // Typed as lib.dom types it, so the declaration compiles for consumers with lib DOM too.
    return this.#stream as ReadableStream<Uint8Array<ArrayBuffer>> | null;
  }

  // Passes a stream through, noting the first read: that is when the spec calls a body disturbed.
  #watch(inner: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
    const reader = inner.getReader();
    return new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          this.#disturbed = true;
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => {
          this.#disturbed = true;
          return reader.cancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
  }

  get bodyUsed(): boolean {
    return this.#used || this.#disturbed;
  }

  // The one place a body read starts: the source's fast path, the web stream if `body` was
  // touched, or nothing for a null body.
  #take(): ResponseSource | Response | null {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    this.#used = true;
    if (this.#stream === null) return null;
    if (this.#stream !== undefined) return new Response(this.#stream);
    const source = this.#source as ResponseSource;
    this.#source = undefined;
    if (this.#registered) unread.unregister(this);
    return source;
  }

  text(): Promise<string> {
    try {
      const from = this.#take();
      return from === null ? Promise.resolve('') : from.text();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The body parsed as JSON. With a schema (zod, or any Standard Schema), the value is validated
   * and typed: a mismatch rejects with `ResponseValidationError` naming each failing path.
   */
  json<T = any>(schema?: StandardSchema<T>): Promise<T> {
    try {
      const from = this.#take();
      const parsed = from === null ? Promise.reject(new SyntaxError('Unexpected end of JSON input')) : from.json();
      return schema === undefined ? (parsed as Promise<T>) : parsed.then((value) => validate(value, schema, this.#url));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    try {
      const from = this.#take();
      return from === null ? Promise.resolve(new ArrayBuffer(0)) : from.arrayBuffer();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The body as bytes (`Response.prototype.bytes` of newer runtimes). */
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    const type = this.headers.get('content-type') ?? '';
    return new Blob([await this.arrayBuffer()], type === '' ? {} : { type });
  }

  async formData(): Promise<FormData> {
    const headers = this.headers;
    return new Response(await this.arrayBuffer(), { headers }).formData();
  }

  clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    const init: LazyResponseInit = { status: this.status, statusText: this.statusText, url: this.#url, redirected: this.#redirected };
    const headers = new Headers(this.headers);
    if (this.#stream === null) return new LazyResponse(undefined, { ...init, nullBody: true }, headers);
    const inner = this.#stream ?? (this.#source as ResponseSource).stream();
    if (this.#source !== undefined && this.#registered) unread.unregister(this);
    this.#source = undefined;
    const [mine, theirs] = inner.tee();
    this.#stream = this.#watch(mine);
    return new LazyResponse(streamSource(theirs, headers), init, headers);
  }
}

/** A {@link ResponseSource} over a web stream, for clones and for transports that only have a stream. */
export function streamSource(stream: ReadableStream<Uint8Array>, headers: Headers): ResponseSource {
  const read = (): Response => new Response(stream);
  return {
    headers: () => headers,
    text: () => read().text(),
    json: () => read().json() as Promise<unknown>,
    arrayBuffer: () => read().arrayBuffer(),
    stream: () => stream,
    dump: () => stream.cancel(),
  };
}
