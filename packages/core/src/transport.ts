import type { Readable } from 'node:stream';
import { z } from 'zod';
import { type BaseContext, type Hop, scopeOf } from './context.js';
import { isShallotError, NetworkError, ShallotError, TimeoutError } from './errors.js';
import type { ResponseSource } from './response.js';
import { redactText } from './redact.js';
import { version } from './version.js';

/**
 * The core dispatcher at the centre of the onion: sends one attempt over a pooled connection
 * and returns a global `Response`. It honours `ctx.signal`, `ctx.tls` and `ctx.timeouts`.
 */
export interface Transport {
  /** `undici` or `node-fetch`, or a custom transport's name. */
  readonly name: string;
  /** The resolved options, for `describe()`. */
  readonly options?: unknown;
  /** Sends one attempt. */
  send(ctx: BaseContext): Promise<Response>;
  /** Releases every socket; requests after this reject. */
  close(): Promise<void>;
  /** Connection pool usage, when the transport can tell. */
  stats?(): TransportStats;
}

/** Pool usage across every origin a transport talks to. */
export interface TransportStats {
  /** Origin pools currently kept. */
  origins: number;
  /** Open sockets. */
  connected: number;
  /** Open sockets that are idle. */
  free: number;
  /** Requests being sent or awaiting their response. */
  running: number;
  /** Requests queued waiting for a socket. */
  pending: number;
}

/** The pooling options both transports share; each adds its own `keepAliveMs` default. */
export const poolOptionsShape = {
  /** Connections per origin (requests' `pool_maxsize`). */
  maxSockets: z.number().int().min(1).default(10),
  /** Origins pooled at once (requests' `pool_connections`). */
  maxOrigins: z.number().int().min(1).default(10),
  /** Bound on establishing a connection, unless a request sets its own. */
  connectTimeoutMs: z.number().positive().optional(),
  /** Redirects followed before failing. */
  maxRedirects: z.number().int().min(0).default(20),
  /**
   * Bound on waiting for the response headers once the request is sent (a server that never
   * answers), unless a request's `readMs` is shorter. The same default on both transports.
   */
  headersTimeoutMs: z.number().positive().default(300_000),
  /** Bound on every decoded response body, in bytes (`ResponseTooLargeError` past it); a request's own wins. */
  maxResponseBytes: z.number().int().positive().optional(),
  /** Ask for gzip, deflate and br (unless the caller set `Accept-Encoding`) and decode the body, as fetch does. */
  decompress: z.boolean().default(true),
  /**
   * Send through an HTTP proxy: `'env'` reads `HTTP_PROXY`, `HTTPS_PROXY` and `NO_PROXY` (either
   * case); a URL (`http://user:pass@proxy:8080`) sends every request through it. https goes
   * through a CONNECT tunnel.
   */
  proxy: z.union([z.literal('env'), z.string().url()]).optional(),
  /** Connect to this unix domain socket instead of the URL's host and port. */
  socketPath: z.string().min(1).optional(),
};

/** What every shallot transport puts on the wire unless the caller set it. */
export const defaultUserAgent = `shallot/${version}`;

/** The codings a transport asks for when it decodes bodies itself. */
export const acceptEncoding = 'gzip, deflate, br';

const connectTimeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ERR_SHALLOT_CONNECT_TIMEOUT']);
const readTimeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ERR_SHALLOT_READ_TIMEOUT']);

function findShallotError(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    if (isShallotError(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function codeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return codeOf((error as { cause?: unknown }).cause);
}

/**
 * Turns what a transport library threw into shallot's error family: the signal's reason when
 * the request was aborted (a deadline's `TimeoutError`, or the caller's own reason), a shallot
 * error found in the cause chain as it is (a pinning failure), `TimeoutError` for connect and
 * read timeouts, and `NetworkError` with the original as `cause` for the rest.
 */
export function toTransportError(error: unknown, ctx: BaseContext, signal?: { readonly aborted: boolean; readonly reason: unknown }): unknown {
  if (signal?.aborted === true) return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
  if (ctx.aborted) return scopeOf(ctx).reason;
  const own = findShallotError(error);
  if (own !== undefined) return own;
  const code = codeOf(error);
  const request = ctx.request;
  if (code !== undefined && connectTimeoutCodes.has(code)) {
    return new TimeoutError('connect', ctx.timeouts.connectMs, { request, cause: error });
  }
  if (code !== undefined && readTimeoutCodes.has(code)) {
    return new TimeoutError('read', ctx.timeouts.readMs, { request, cause: error });
  }
  if (error instanceof Error && error.message.includes('://')) {
    // A library's message may carry the URL (node-fetch's does): the cause is printed too.
    error.message = redactText(error.message);
    if (error.stack !== undefined) error.stack = redactText(error.stack);
  }
  const message = error instanceof Error ? error.message : String(error);
  return new NetworkError(code === undefined || message.includes(code) ? message : `${message} (${code})`, { request, cause: error });
}

const staleSocketCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** A socket error before any response byte: what a server closing an idle keep-alive socket causes. */
export function isStaleSocketError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && staleSocketCodes.has(code);
}

/** An idempotent request (or one with an Idempotency-Key) whose body can be sent again. */
export function resendable(ctx: BaseContext, hop: Hop): boolean {
  const body = ctx.request.body;
  if (hop.sendBody && body !== null && !body.replayable) return false;
  return idempotentMethods.has(hop.method) || hop.headers.has('idempotency-key');
}

/**
 * What a request given as a bare path (`client.get('/items')` without `baseUrl`) is resolved
 * against: a URL with this protocol has a path but no origin yet. A layer that chooses the
 * endpoint replaces it (`ctx.request.url = new URL(url.pathname + url.search, endpoint)`).
 */
export const pathOnlyBase = 'shallot-path:/';

/** True for a request URL that is still a bare path, waiting for a layer to choose its origin. */
export function isPathOnly(url: URL): boolean {
  return url.protocol === 'shallot-path:';
}

/** Refuses a URL a transport cannot send, with an error that says what to do. */
export function assertSendable(url: URL, ctx: BaseContext, transport: string): void {
  if (url.protocol === 'http:' || url.protocol === 'https:') return;
  if (isPathOnly(url)) {
    throw new ShallotError(
      'ERR_NO_ORIGIN',
      `${url.pathname}${url.search} is a path with no origin: set baseUrl, or use a layer that chooses the endpoint (a load balancer)`,
      { request: { method: ctx.request.method, url: `${url.pathname}${url.search}` } },
    );
  }
  throw new TypeError(`${transport}: unsupported protocol ${url.protocol} in ${url.href}`);
}

/**
 * Reads a whole Node stream. Plain listeners rather than `node:stream/consumers`: measured on
 * the node-fetch transport, the async-iterator path cost 4-6 µs per request more.
 */
function readAll(body: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    body.on('data', (chunk: Buffer | string) => chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    body.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    body.once('error', reject);
    body.once('close', () => {
      if (!ended) reject(body.errored ?? new Error('the response body closed before it ended'));
    });
  });
}

/** UTF-8 text of a body, without a byte-order mark, as the Fetch standard decodes it. */
function decodeText(bytes: Buffer): string {
  const start = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return bytes.toString('utf8', start);
}

/** A {@link ResponseSource} over a Node stream, mapping read failures to shallot errors. */
export class NodeStreamSource implements ResponseSource {
  readonly #body: Readable;
  readonly #headers: () => Headers;
  readonly #ctx: BaseContext;

  constructor(body: Readable, headers: () => Headers, ctx: BaseContext) {
    this.#body = body;
    this.#headers = headers;
    this.#ctx = ctx;
  }

  headers(): Headers {
    return this.#headers();
  }

  /** Maps a failed body read to shallot's errors; a body that is not JSON stays a `SyntaxError`. */
  protected readonly fail = (error: unknown): never => {
    throw error instanceof SyntaxError ? error : toTransportError(error, this.#ctx);
  };

  text(): Promise<string> {
    return readAll(this.#body).then(decodeText, this.fail);
  }

  json(): Promise<unknown> {
    return readAll(this.#body).then((bytes) => JSON.parse(decodeText(bytes)) as unknown, this.fail);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return readAll(this.#body).then((bytes) => {
      const copy = new Uint8Array(bytes.byteLength);
      copy.set(bytes);
      return copy.buffer;
    }, this.fail);
  }

  stream(): ReadableStream<Uint8Array> {
    const body = this.#body;
    const ctx = this.#ctx;
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          try {
            const { value, done } = await chunks.next();
            if (done === true) controller.close();
            else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
          } catch (error) {
            controller.error(toTransportError(error, ctx));
          }
        },
        cancel(reason) {
          // A body cancelled before anything read it would emit 'error' to no listener.
          body.on('error', () => {});
          body.destroy(reason instanceof Error ? reason : undefined);
        },
      },
      { highWaterMark: 0 },
    );
  }

  async dump(): Promise<void> {
    this.#body.resume();
  }
}
