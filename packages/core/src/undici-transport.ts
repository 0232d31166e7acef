import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { BodyPayload } from './body.js';
import type { BaseContext } from './context.js';
import { BodyNotReplayableError, ClientClosedError, NetworkError } from './errors.js';
import { parseOptions } from './parse-options.js';
import { isNullBodyStatus, LazyResponse, type ResponseSource } from './response.js';
import { abortReason, neverAbortSignal } from './signals.js';
import { tlsKey, type TlsOptions } from './tls-options.js';
import { crossOriginSensitiveHeaders, redirectStatuses, toTransportError, type Transport, type TransportStats } from './transport.js';

/** Options of {@link undiciTransport}. */
export const undiciTransportOptionsSchema = z.strictObject({
  /** Pool size per origin (requests' `pool_maxsize`). */
  maxSockets: z.number().int().min(1).default(10),
  /** Origin pools kept at once; the least recently used is closed past this (`pool_connections`). */
  maxOrigins: z.number().int().min(1).default(10),
  /** How long an idle keep-alive socket is kept. */
  keepAliveMs: z.number().int().min(1).optional(),
  /** Bound on establishing a connection, unless a request sets its own. */
  connectTimeoutMs: z.number().positive().optional(),
  /** Redirects followed before failing. */
  maxRedirects: z.number().int().min(0).default(20),
});

/** What users pass to {@link undiciTransport}. */
export type UndiciTransportOptions = z.input<typeof undiciTransportOptionsSchema>;
/** {@link UndiciTransportOptions} with defaults applied. */
export type ResolvedUndiciTransportOptions = z.output<typeof undiciTransportOptionsSchema>;

// Graceful close waits this long for requests in flight, then destroys their sockets.
const closeGraceMs = 2_000;

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    if (typeof value === 'string') headers.append(name, value);
    else for (const item of value) headers.append(name, item);
  }
  return headers;
}

function firstHeader(raw: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = raw[name];
  return Array.isArray(value) ? value[0] : value;
}

class UndiciSource implements ResponseSource {
  readonly #data: Dispatcher.ResponseData;
  readonly #ctx: BaseContext;

  constructor(data: Dispatcher.ResponseData, ctx: BaseContext) {
    this.#data = data;
    this.#ctx = ctx;
  }

  headers(): Headers {
    return toHeaders(this.#data.headers);
  }

  #fail = (error: unknown): never => {
    throw toTransportError(error, this.#ctx);
  };

  text(): Promise<string> {
    return this.#data.body.text().catch(this.#fail);
  }

  json(): Promise<unknown> {
    return this.#data.body.json().catch(this.#fail);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#data.body.arrayBuffer().catch(this.#fail);
  }

  stream(): ReadableStream<Uint8Array> {
    const body = this.#data.body;
    const ctx = this.#ctx;
    const reader = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { value, done } = await reader.next();
          if (done === true) controller.close();
          else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        } catch (error) {
          controller.error(toTransportError(error, ctx));
        }
      },
      cancel(reason) {
        body.destroy(reason instanceof Error ? reason : undefined);
      },
    });
  }

  dump(): Promise<void> {
    return this.#data.body.dump();
  }
}

function flattenHeaders(headers: Headers, payload: BodyPayload | undefined): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => {
    flat.push(name, value);
  });
  if (payload?.contentType !== undefined && !headers.has('content-type')) flat.push('content-type', payload.contentType);
  return flat;
}

interface Hop {
  url: URL;
  method: string;
  headers: Headers;
  sendBody: boolean;
}

/**
 * The default transport: undici's `Pool`, one keep-alive pool per origin (and per TLS
 * configuration and connect timeout), the least recently used closed past `maxOrigins`. It
 * sends through pools of its own: nothing global is set or used, so a user's own `fetch` calls
 * are untouched. Responses are {@link LazyResponse}s that read straight from undici's body.
 *
 * @example
 * const client = compose().build({ transport: undiciTransport({ maxSockets: 50 }) });
 */
export function undiciTransport(options: UndiciTransportOptions = {}): Transport {
  const resolved = parseOptions(undiciTransportOptionsSchema, options, 'undiciTransport');
  const pools = new Map<string, Pool>();
  let lastKey = '';
  let closed = false;

  function poolFor(url: URL, tls: TlsOptions | undefined, connectMs: number | undefined): Pool {
    const secure = url.protocol === 'https:';
    const key = secure || connectMs !== undefined ? `${url.origin}|${secure ? tlsKey(tls) : ''}|${connectMs ?? ''}` : url.origin;
    let pool = pools.get(key);
    if (pool !== undefined) {
      if (key !== lastKey) {
        // Keep the Map in least-recently-used order.
        pools.delete(key);
        pools.set(key, pool);
        lastKey = key;
      }
      return pool;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`undiciTransport: unsupported protocol ${url.protocol} in ${url.origin}`);
    }
    const connect: Record<string, unknown> = {};
    if (connectMs !== undefined) connect.timeout = connectMs;
    if (secure && tls !== undefined) Object.assign(connect, tls);
    pool = new Pool(url.origin, {
      connections: resolved.maxSockets,
      ...(resolved.keepAliveMs === undefined ? {} : { keepAliveTimeout: resolved.keepAliveMs, keepAliveMaxTimeout: Math.max(resolved.keepAliveMs, 600_000) }),
      connect,
    });
    pools.set(key, pool);
    lastKey = key;
    if (pools.size > resolved.maxOrigins) {
      const [oldestKey, oldest] = pools.entries().next().value as [string, Pool];
      pools.delete(oldestKey);
      void oldest.close().catch(() => {});
    }
    return pool;
  }

  async function send(ctx: BaseContext): Promise<Response> {
    if (closed) throw new ClientClosedError({ request: ctx.request });
    const signal = ctx.signal;
    if (signal.aborted) throw abortReason(signal);
    const request = ctx.request;
    const readMs = ctx.timeouts.readMs;
    const connectMs = ctx.timeouts.connectMs ?? resolved.connectTimeoutMs;
    let hop: Hop = { url: request.url, method: request.method, headers: request.headers, sendBody: request.body !== null };
    for (let redirects = 0; ; redirects++) {
      const body = hop.sendBody ? request.body : null;
      const payload = body === null ? undefined : (body.takeSync() ?? (await body.take(request)));
      let data: Dispatcher.ResponseData;
      try {
        data = await poolFor(hop.url, ctx.tls, connectMs).request({
          path: hop.url.pathname + hop.url.search,
          method: hop.method as Dispatcher.HttpMethod,
          headers: flattenHeaders(hop.headers, payload),
          body: payload?.data ?? null,
          signal: signal === neverAbortSignal ? undefined : signal,
          ...(readMs === undefined ? {} : { headersTimeout: readMs, bodyTimeout: readMs }),
        });
      } catch (error) {
        throw toTransportError(error, ctx);
      }
      const status = data.statusCode;
      const location = redirectStatuses.has(status) ? firstHeader(data.headers, 'location') : undefined;
      if (location === undefined || request.redirect === 'manual') {
        return new LazyResponse(new UndiciSource(data, ctx), {
          status,
          statusText: data.statusText,
          url: hop.url.href,
          redirected: redirects > 0,
          nullBody: hop.method === 'HEAD' || isNullBodyStatus(status),
        });
      }
      await data.body.dump().catch(() => {});
      if (request.redirect === 'error') {
        throw new NetworkError(`redirected (${status}) to ${location} with redirect: 'error'`, { request });
      }
      if (redirects >= resolved.maxRedirects) {
        throw new NetworkError(`more than ${resolved.maxRedirects} redirects`, { request });
      }
      hop = nextHop(hop, status, location, request.body?.replayable ?? true, ctx);
    }
  }

  function nextHop(hop: Hop, status: number, location: string, replayable: boolean, ctx: BaseContext): Hop {
    let url: URL;
    try {
      url = new URL(location, hop.url);
    } catch (error) {
      throw new NetworkError(`invalid redirect location ${JSON.stringify(location)}`, { request: ctx.request, cause: error });
    }
    const headers = new Headers(hop.headers);
    let { method, sendBody } = hop;
    if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
      method = status === 303 ? 'GET' : 'GET';
      sendBody = false;
      for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(name);
    }
    if (sendBody && !replayable) throw new BodyNotReplayableError({ request: ctx.request, cause: new Error(`redirect ${status} to ${url.href}`) });
    if (url.origin !== hop.url.origin) for (const name of crossOriginSensitiveHeaders) headers.delete(name);
    return { url, method, headers, sendBody };
  }

  async function close(): Promise<void> {
    closed = true;
    const all = [...pools.values()];
    pools.clear();
    await Promise.all(
      all.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const graceful = pool.close().then(() => true, () => false);
        const late = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), closeGraceMs);
          timer.unref();
        });
        const done = await Promise.race([graceful, late]);
        clearTimeout(timer);
        if (!done) await pool.destroy().catch(() => {});
      }),
    );
  }

  function stats(): TransportStats {
    const total: TransportStats = { origins: pools.size, connected: 0, free: 0, running: 0, pending: 0 };
    for (const pool of pools.values()) {
      const s = pool.stats;
      total.connected += s.connected;
      total.free += s.free;
      total.running += s.running;
      total.pending += s.pending;
    }
    return total;
  }

  return { name: 'undici', options: resolved, send, close, stats };
}
