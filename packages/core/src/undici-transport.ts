import type { TLSSocket } from 'node:tls';
import { buildConnector, type Dispatcher, ProxyAgent } from 'undici';
import { z } from 'zod';
import { type BaseContext, scopeOf } from './context.js';
import { ClientClosedError, NetworkError } from './errors.js';
import { OriginPool } from './origin-pool.js';
import { parseOptions } from './parse-options.js';
import { isNullBodyStatus, LazyResponse } from './response.js';
import { firstHop, hopTls, nextHop, redirectStatuses, runRedirectHooks } from './redirect.js';
import { tlsKey, type TlsOptions } from './tls-options.js';
import { transportSignal } from './transport-signal.js';
import { describeDecoded, planBody, shapeBody } from './response-body.js';
import { environmentHasProxy, payloadLength, proxyFor, wireHeaders, withUploadProgress } from './wire.js';
import {
  assertSendable,
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
  /** Offer HTTP/2 through ALPN on https connections; a server that picks it gets multiplexed streams. @default false */
  allowH2: z.boolean().default(false),
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

/** What the transport sends a request through: an origin pool of its own, or a proxy agent. */
interface Route {
  request(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  /** `1.1` or `2`, once a connection told (ALPN). */
  readonly protocol: string | undefined;
}

/** Records the protocol each connection negotiated (`h2` through ALPN, else HTTP/1.1). */
function noteProtocol(connect: buildConnector.connector, seen: { protocol: string | undefined }): buildConnector.connector {
  return (options, callback) =>
    connect(options, (error, socket) => {
      if (socket !== null && error === null) seen.protocol = (socket as TLSSocket).alpnProtocol === 'h2' ? '2' : '1.1';
      callback(error as Error, socket as never);
    });
}

/**
 * The default transport over undici: one keep-alive connection pool per origin (and per TLS
 * configuration and connect timeout), the least recently used closed past `maxOrigins`. It
 * sends through pools of its own: nothing global is set or used, so a user's own `fetch` calls
 * are untouched. Responses are {@link LazyResponse}s that read straight from undici's body. As
 * fetch does, it asks for gzip/deflate/br and decodes them, names itself in `user-agent`, and
 * bounds the wait for headers (`headersTimeoutMs`); it also speaks HTTP/2 (`allowH2`), goes
 * through a proxy (`proxy`) or a unix socket (`socketPath`).
 *
 * @example
 * const client = compose().build({ transport: undiciTransport({ maxSockets: 50 }) });
 */
export function undiciTransport(options: UndiciTransportOptions = {}): Transport {
  const resolved = parseOptions(undiciTransportOptionsSchema, options, 'undiciTransport');
  const pools = new Map<string, OriginPool & { protocol: string | undefined }>();
  const proxies = new Map<string, ProxyAgent>();
  const useProxy = resolved.proxy !== undefined && (resolved.proxy !== 'env' || environmentHasProxy());
  const keepAlive = resolved.keepAliveMs === undefined ? {} : { keepAliveTimeout: resolved.keepAliveMs, keepAliveMaxTimeout: Math.max(resolved.keepAliveMs, 600_000) };
  let lastKey = '';
  let closed = false;

  function connectOptions(secure: boolean, tls: TlsOptions | undefined, connectMs: number | undefined): Record<string, unknown> {
    const connect: Record<string, unknown> = {};
    if (connectMs !== undefined) connect.timeout = connectMs;
    if (resolved.socketPath !== undefined) connect.socketPath = resolved.socketPath;
    if (secure && resolved.allowH2) connect.allowH2 = true;
    if (secure && tls !== undefined) Object.assign(connect, tls);
    return connect;
  }

  function poolFor(url: URL, tls: TlsOptions | undefined, connectMs: number | undefined): Route {
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
    const connect = connectOptions(secure, tls, connectMs);
    const verifyPeer = secure ? tls?.verifyPeer : undefined;
    const seen = { protocol: undefined as string | undefined };
    // One connector per pool: its TLS session cache serves every connection to the origin.
    const connector = verifyPeer === undefined ? buildConnector(connect as buildConnector.BuildOptions) : verifyingConnector(connect, verifyPeer);
    const created = new OriginPool(url.origin, {
      connections: resolved.maxSockets,
      client: {
        ...keepAlive,
        headersTimeout: resolved.headersTimeoutMs,
        allowH2: secure && resolved.allowH2,
        connect: noteProtocol(connector, seen),
      },
    });
    pool = Object.defineProperty(created, 'protocol', { get: () => seen.protocol }) as OriginPool & { protocol: string | undefined };
    pools.set(key, pool);
    lastKey = key;
    if (pools.size > resolved.maxOrigins) {
      const [oldestKey, oldest] = pools.entries().next().value as [string, OriginPool];
      pools.delete(oldestKey);
      void oldest.close(new ClientClosedError()).catch(() => {});
    }
    return pool;
  }

  function proxyRoute(proxy: string, url: URL, tls: TlsOptions | undefined, connectMs: number | undefined): Route {
    const secure = url.protocol === 'https:';
    const key = `${proxy}|${secure ? tlsKey(tls) : ''}|${connectMs ?? ''}`;
    let agent = proxies.get(key);
    if (agent === undefined) {
      const connect = connectOptions(secure, tls, connectMs);
      agent = new ProxyAgent({
        uri: proxy,
        connections: resolved.maxSockets,
        headersTimeout: resolved.headersTimeoutMs,
        ...keepAlive,
        requestTls: connect as buildConnector.BuildOptions,
        ...(connectMs === undefined ? {} : { proxyTls: { timeout: connectMs } }),
      });
      proxies.set(key, agent);
    }
    const via = agent;
    return { request: (options) => via.request(options), protocol: '1.1' };
  }

  function routeFor(url: URL, tls: TlsOptions | undefined, connectMs: number | undefined): Route {
    if (useProxy) {
      const proxy = proxyFor(url, resolved.proxy);
      if (proxy !== undefined) return proxyRoute(proxy, url, tls, connectMs);
    }
    return poolFor(url, tls, connectMs);
  }

  async function send(ctx: BaseContext): Promise<Response> {
    if (closed) throw new ClientClosedError({ request: ctx.request });
    const scope = scopeOf(ctx);
    if (scope.aborted) throw scope.reason;
    const request = ctx.request;
    const connectMs = ctx.timeouts.connectMs ?? resolved.connectTimeoutMs;
    // One small object stands for the abort signal: the scope (caller, deadlines) and the read
    // timeout on the headers fire it; undici listens to it until the body is done.
    const signal = transportSignal(scope, ctx, ctx.timeouts.readMs);
    let hop = firstHop(request);
    try {
      for (let redirects = 0; ; redirects++) {
        assertSendable(hop.url, ctx, 'undiciTransport');
        const body = hop.sendBody ? request.body : null;
        const payload = body === null ? undefined : (body.takeSync() ?? (await body.take(request)));
        const progress = payload === undefined ? undefined : request.onUploadProgress;
        const upload = progress === undefined || payload === undefined ? payload?.data : withUploadProgress(payload, progress, ctx);
        const streamedLength = payload !== undefined && typeof upload === 'object' && !(upload instanceof Uint8Array) ? payloadLength(payload) : undefined;
        const wire = wireHeaders(hop.headers, payload, resolved.decompress, streamedLength);
        const route = routeFor(hop.url, hopTls(ctx, hop.url), connectMs);
        const dispatch = {
          origin: hop.url.origin,
          path: hop.url.pathname + hop.url.search,
          method: hop.method as Dispatcher.HttpMethod,
          headers: wire.flat,
          body: upload ?? null,
          signal: signal as unknown as AbortSignal | undefined,
        };
        let data: Dispatcher.ResponseData;
        try {
          data = await route.request(dispatch);
        } catch (error) {
          throw toTransportError(error, ctx, signal);
        }
        const status = data.statusCode;
        if (status < 100 || status > 599) {
          // Destroyed without an error, undici's body emits one (RequestAbortedError): with no
          // listener that was an uncaught exception in the caller's process.
          data.body.on('error', () => {}).destroy();
          throw new NetworkError(`the server answered with an invalid status ${status}`, { request });
        }
        const location = redirectStatuses.has(status) && request.redirect !== 'manual' ? firstHeader(data.headers, 'location') : undefined;
        if (location === undefined) {
          const nullBody = hop.method === 'HEAD' || isNullBodyStatus(status);
          const init = { status, statusText: data.statusText, url: hop.url.href, redirected: redirects > 0, nullBody, protocol: route.protocol };
          const raw = data.headers;
          const plan = nullBody ? undefined : planBody(ctx, { get: (name) => firstHeader(raw, name) }, { decompress: resolved.decompress, maxResponseBytes: resolved.maxResponseBytes, weAskedForCompression: wire.compression });
          if (plan === undefined) return new LazyResponse(new UndiciSource(data, ctx), init);
          const headers = (): Headers => describeDecoded(toHeaders(raw), plan);
          return new LazyResponse(new NodeStreamSource(shapeBody(data.body, plan, ctx), headers, ctx), init);
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
    const agents = [...proxies.values()];
    proxies.clear();
    await Promise.all(agents.map((agent) => agent.close().catch(() => agent.destroy().catch(() => {}))));
    await Promise.all(
      all.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const graceful = pool.close(new ClientClosedError()).then(() => true, () => false);
        const late = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), closeGraceMs);
          timer.unref();
        });
        const done = await Promise.race([graceful, late]);
        clearTimeout(timer);
        if (!done) await pool.destroy(new ClientClosedError()).catch(() => {});
      }),
    );
  }

  function stats(): TransportStats {
    const total: TransportStats = { origins: pools.size, connected: 0, free: 0, running: 0, pending: 0 };
    for (const pool of pools.values()) {
      const s = pool.stats();
      total.connected += s.connected;
      total.free += s.free;
      total.running += s.running;
      total.pending += s.pending;
    }
    return total;
  }

  return { name: 'undici', options: resolved, send, close, stats };
}
