import type { TLSSocket } from 'node:tls';
import { buildConnector, Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import type { BodyPayload } from './body.js';
import { type BaseContext, scopeOf } from './context.js';
import { ClientClosedError } from './errors.js';
import { parseOptions } from './parse-options.js';
import { isNullBodyStatus, LazyResponse } from './response.js';
import { firstHop, hopTls, nextHop, redirectStatuses, runRedirectHooks } from './redirect.js';
import { tlsKey, type TlsOptions } from './tls-options.js';
import { transportSignal } from './transport-signal.js';
import {
  assertSendable,
  idleGuard,
  NodeStreamSource,
  poolOptionsShape,
  toTransportError,
  type Transport,
  type TransportStats,
} from './transport.js';

/** Options of {@link undiciTransport}. */
export const undiciTransportOptionsSchema = z.strictObject({
  // maxOrigins: the least recently used origin pool is closed past it.
  ...poolOptionsShape,
  /** How long an idle keep-alive socket is kept. @default undici's 4 s */
  keepAliveMs: z.number().int().min(1).optional(),
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

/** Reads straight from undici's body: its `text()`/`json()`/`arrayBuffer()` skip web streams entirely. */
class UndiciSource extends NodeStreamSource {
  readonly #data: Dispatcher.ResponseData;

  constructor(data: Dispatcher.ResponseData, ctx: BaseContext) {
    super(data.body, () => toHeaders(data.headers), ctx);
    this.#data = data;
  }

  override text(): Promise<string> {
    return this.#data.body.text().catch(this.fail);
  }

  override json(): Promise<unknown> {
    return this.#data.body.json().catch(this.fail);
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#data.body.arrayBuffer().catch(this.fail);
  }

  override dump(): Promise<void> {
    return this.#data.body.dump();
  }
}

/**
 * undici's connector with a check after the handshake: undici calls back only once the TLS
 * handshake is done and writes nothing before, so a failed check sends no request byte.
 */
function verifyingConnector(options: Record<string, unknown>, verifyPeer: (socket: TLSSocket) => Error | undefined): buildConnector.connector {
  const connect = buildConnector(options as buildConnector.BuildOptions);
  return (connectOptions, callback) =>
    connect(connectOptions, (error, socket) => {
      if (error !== null) return callback(error, null);
      const failure = verifyPeer(socket as TLSSocket);
      if (failure === undefined) return callback(null, socket);
      socket.destroy();
      return callback(failure, null);
    });
}

function flattenHeaders(headers: Headers, payload: BodyPayload | undefined): string[] {
  const flat: string[] = [];
  headers.forEach((value, name) => {
    flat.push(name, value);
  });
  if (payload?.contentType !== undefined && !headers.has('content-type')) flat.push('content-type', payload.contentType);
  return flat;
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
    const connect: Record<string, unknown> = {};
    if (connectMs !== undefined) connect.timeout = connectMs;
    if (secure && tls !== undefined) Object.assign(connect, tls);
    const verifyPeer = secure ? tls?.verifyPeer : undefined;
    pool = new Pool(url.origin, {
      connections: resolved.maxSockets,
      ...(resolved.keepAliveMs === undefined ? {} : { keepAliveTimeout: resolved.keepAliveMs, keepAliveMaxTimeout: Math.max(resolved.keepAliveMs, 600_000) }),
      connect: verifyPeer === undefined ? connect : verifyingConnector(connect, verifyPeer),
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
    const scope = scopeOf(ctx);
    if (scope.aborted) throw scope.reason;
    const request = ctx.request;
    const readMs = ctx.timeouts.readMs;
    const connectMs = ctx.timeouts.connectMs ?? resolved.connectTimeoutMs;
    // One small object stands for the abort signal: the scope (caller, deadlines) and the read
    // timeout on the headers fire it; undici listens to it until the body is done.
    const signal = transportSignal(scope, ctx, readMs);
    let hop = firstHop(request);
    try {
      for (let redirects = 0; ; redirects++) {
        assertSendable(hop.url, ctx, 'undiciTransport');
        const body = hop.sendBody ? request.body : null;
        const payload = body === null ? undefined : (body.takeSync() ?? (await body.take(request)));
        let data: Dispatcher.ResponseData;
        try {
          data = await poolFor(hop.url, hopTls(ctx, hop.url), connectMs).request({
            path: hop.url.pathname + hop.url.search,
            method: hop.method as Dispatcher.HttpMethod,
            headers: flattenHeaders(hop.headers, payload),
            body: payload?.data ?? null,
            signal: signal as unknown as AbortSignal | undefined,
          });
        } catch (error) {
          throw toTransportError(error, ctx, signal);
        }
        const status = data.statusCode;
        const location = redirectStatuses.has(status) && request.redirect !== 'manual' ? firstHeader(data.headers, 'location') : undefined;
        if (location === undefined) {
          const init = {
            status,
            statusText: data.statusText,
            url: hop.url.href,
            redirected: redirects > 0,
            nullBody: hop.method === 'HEAD' || isNullBodyStatus(status),
          };
          const source =
            readMs === undefined
              ? new UndiciSource(data, ctx)
              : new NodeStreamSource(idleGuard(data.body, readMs, ctx), () => toHeaders(data.headers), ctx);
          return new LazyResponse(source, init);
        }
        await data.body.dump().catch(() => {});
        const from = hop.url;
        hop = nextHop(hop, status, location, redirects, resolved.maxRedirects, ctx);
        if (ctx.redirectHooks !== undefined) await runRedirectHooks(ctx, { status, from, responseHeaders: toHeaders(data.headers), to: hop });
      }
    } finally {
      signal?.headersDone();
    }
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
