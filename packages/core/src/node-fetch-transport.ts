import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { PassThrough, Readable } from 'node:stream';
import { arrayBuffer as readArrayBuffer, json as readJson, text as readText } from 'node:stream/consumers';
import fetch, { type RequestInit as NodeFetchInit, type Response as NodeFetchResponse } from 'node-fetch';
import { z } from 'zod';
import type { BaseContext } from './context.js';
import { ClientClosedError, TimeoutError } from './errors.js';
import { parseOptions } from './parse-options.js';
import { isNullBodyStatus, LazyResponse, type ResponseSource } from './response.js';
import { abortReason, linkAbort, neverAbortSignal } from './signals.js';
import { tlsKey, type TlsOptions } from './tls-options.js';
import { toTransportError, type Transport, type TransportStats } from './transport.js';

/** Options of {@link nodeFetchTransport}. */
export const nodeFetchTransportOptionsSchema = z.strictObject({
  /** Sockets per origin (requests' `pool_maxsize`). */
  maxSockets: z.number().int().min(1).default(10),
  /** Origins the sockets are spread over at most: the agent keeps `maxSockets × maxOrigins` sockets in all. */
  maxOrigins: z.number().int().min(1).default(10),
  /** How long an idle keep-alive socket is kept. */
  keepAliveMs: z.number().int().min(1).default(4_000),
  /** Bound on establishing a connection, unless a request sets its own. */
  connectTimeoutMs: z.number().positive().optional(),
  /** Redirects followed before failing. */
  maxRedirects: z.number().int().min(0).default(20),
  /** Ask for gzip/deflate/br and decode it, as node-fetch does by default. */
  compress: z.boolean().default(true),
});

/** What users pass to {@link nodeFetchTransport}. */
export type NodeFetchTransportOptions = z.input<typeof nodeFetchTransportOptionsSchema>;
/** {@link NodeFetchTransportOptions} with defaults applied. */
export type ResolvedNodeFetchTransportOptions = z.output<typeof nodeFetchTransportOptionsSchema>;

type AnyAgent = http.Agent | https.Agent;

// Agents for distinct TLS configurations are kept up to this many; the oldest is destroyed past it.
const maxAgents = 32;

/** Adds a connect timeout to an agent: a socket not connected (and through TLS) in time is destroyed. */
function guardConnect(agent: AnyAgent, connectMs: number | undefined, secure: boolean): AnyAgent {
  if (connectMs === undefined) return agent;
  const create = (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection.bind(agent);
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (...args: unknown[]) => {
    const socket = create(...args);
    const timer = setTimeout(() => {
      const error = Object.assign(new Error(`connect timeout after ${connectMs} ms`), { code: 'ERR_SHALLOT_CONNECT_TIMEOUT' });
      socket.destroy(error);
    }, connectMs);
    timer.unref();
    const done = (): void => clearTimeout(timer);
    socket.once(secure ? 'secureConnect' : 'connect', done);
    socket.once('close', done);
    return socket;
  };
  return agent;
}

function toHeaders(response: NodeFetchResponse): Headers {
  const headers = new Headers();
  const raw = response.headers.raw();
  for (const name in raw) for (const value of raw[name] as string[]) headers.append(name, value);
  return headers;
}

/** Reads a node-fetch body, failing with a read `TimeoutError` when no byte arrives for `readMs`. */
function idleGuard(body: Readable, readMs: number, ctx: BaseContext): Readable {
  const out = new PassThrough();
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const error = new TimeoutError('read', readMs, { request: ctx.request });
      body.destroy(error);
      out.destroy(error);
    }, readMs);
    timer.unref();
  };
  arm();
  body.on('data', arm);
  body.once('end', () => clearTimeout(timer));
  body.once('error', (error) => {
    clearTimeout(timer);
    out.destroy(error);
  });
  out.once('close', () => clearTimeout(timer));
  body.pipe(out);
  return out;
}

class NodeFetchSource implements ResponseSource {
  readonly #response: NodeFetchResponse;
  readonly #body: Readable | null;
  readonly #ctx: BaseContext;

  constructor(response: NodeFetchResponse, ctx: BaseContext) {
    this.#response = response;
    this.#ctx = ctx;
    const body = response.body as unknown as Readable | null;
    const readMs = ctx.timeouts.readMs;
    this.#body = body !== null && readMs !== undefined ? idleGuard(body, readMs, ctx) : body;
  }

  headers(): Headers {
    return toHeaders(this.#response);
  }

  #fail = (error: unknown): never => {
    throw toTransportError(error, this.#ctx);
  };

  text(): Promise<string> {
    return (this.#body === null ? Promise.resolve('') : readText(this.#body)).catch(this.#fail);
  }

  json(): Promise<unknown> {
    return (this.#body === null ? Promise.reject(new SyntaxError('Unexpected end of JSON input')) : readJson(this.#body)).catch(this.#fail);
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return (this.#body === null ? Promise.resolve(new ArrayBuffer(0)) : readArrayBuffer(this.#body)).catch(this.#fail);
  }

  stream(): ReadableStream<Uint8Array> {
    if (this.#body === null) return new ReadableStream({ start: (c) => c.close() });
    return Readable.toWeb(this.#body) as unknown as ReadableStream<Uint8Array>;
  }

  async dump(): Promise<void> {
    this.#body?.resume();
  }
}

/**
 * A transport over node-fetch 3 and Node's `http.Agent`, for stacks that need node-fetch or an
 * agent from its ecosystem. Keep-alive agents are pooled per TLS configuration and connect
 * timeout; responses are global `Response`s that read lazily from node-fetch's body.
 *
 * @example
 * const client = compose().build({ transport: nodeFetchTransport({ maxSockets: 20 }) });
 */
export function nodeFetchTransport(options: NodeFetchTransportOptions = {}): Transport {
  const resolved = parseOptions(nodeFetchTransportOptionsSchema, options, 'nodeFetchTransport');
  const agents = new Map<string, AnyAgent>();
  let closed = false;

  function agentFor(secure: boolean, tls: TlsOptions | undefined, connectMs: number | undefined): AnyAgent {
    const key = `${secure ? 's' : 'p'}|${secure ? tlsKey(tls) : ''}|${connectMs ?? ''}`;
    let agent = agents.get(key);
    if (agent !== undefined) return agent;
    const base = {
      keepAlive: true,
      maxSockets: resolved.maxSockets,
      maxFreeSockets: resolved.maxSockets,
      maxTotalSockets: resolved.maxSockets * resolved.maxOrigins,
      timeout: resolved.keepAliveMs,
      scheduling: 'lifo' as const,
    };
    agent = guardConnect(secure ? new https.Agent({ ...base, ...(tls ?? {}) }) : new http.Agent(base), connectMs, secure);
    agents.set(key, agent);
    if (agents.size > maxAgents) {
      const [oldestKey, oldest] = agents.entries().next().value as [string, AnyAgent];
      agents.delete(oldestKey);
      oldest.destroy();
    }
    return agent;
  }

  async function send(ctx: BaseContext): Promise<Response> {
    if (closed) throw new ClientClosedError({ request: ctx.request });
    if (ctx.signal.aborted) throw abortReason(ctx.signal);
    const request = ctx.request;
    const url = request.url;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`nodeFetchTransport: unsupported protocol ${url.protocol} in ${url.origin}`);
    }
    const secure = url.protocol === 'https:';
    const agent = agentFor(secure, ctx.tls, ctx.timeouts.connectMs ?? resolved.connectTimeoutMs);
    const payload = request.body === null ? undefined : (request.body.takeSync() ?? (await request.body.take(request)));
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (payload?.contentType !== undefined && headers['content-type'] === undefined) headers['content-type'] = payload.contentType;

    // A read timeout bounds the wait for the response headers here; the body is guarded by idleGuard.
    const readMs = ctx.timeouts.readMs;
    const link = readMs === undefined ? undefined : linkAbort(ctx.signal);
    const cancelRead =
      link === undefined || readMs === undefined
        ? undefined
        : ctx.clock.setTimer(readMs, () => link.abort(new TimeoutError('read', readMs, { request })));
    const signal = link?.signal ?? (ctx.signal === neverAbortSignal ? undefined : ctx.signal);
    const init: NodeFetchInit = {
      method: request.method,
      headers,
      body: (payload?.data ?? null) as NodeFetchInit['body'],
      agent,
      redirect: request.redirect,
      follow: resolved.maxRedirects,
      compress: resolved.compress,
      signal: signal as NodeFetchInit['signal'],
    };
    let response: NodeFetchResponse;
    try {
      response = await fetch(url.href, init);
    } catch (error) {
      throw toTransportError(error, ctx, link?.signal ?? ctx.signal);
    } finally {
      cancelRead?.();
    }
    // The link stays: node-fetch keeps reading the body under the same signal, so the caller's
    // abort still reaches it. It lives as long as this request does.
    return new LazyResponse(new NodeFetchSource(response, ctx), {
      status: response.status,
      statusText: response.statusText,
      url: response.url,
      redirected: response.redirected,
      nullBody: request.method === 'HEAD' || isNullBodyStatus(response.status),
    });
  }

  async function close(): Promise<void> {
    closed = true;
    for (const agent of agents.values()) agent.destroy();
    agents.clear();
  }

  function stats(): TransportStats {
    const total: TransportStats = { origins: 0, connected: 0, free: 0, running: 0, pending: 0 };
    const origins = new Set<string>();
    for (const agent of agents.values()) {
      for (const [name, list] of Object.entries(agent.sockets)) {
        origins.add(name);
        total.running += list?.length ?? 0;
        total.connected += list?.length ?? 0;
      }
      for (const [name, list] of Object.entries(agent.freeSockets)) {
        origins.add(name);
        total.free += list?.length ?? 0;
        total.connected += list?.length ?? 0;
      }
      for (const list of Object.values(agent.requests)) total.pending += list?.length ?? 0;
    }
    total.origins = origins.size;
    return total;
  }

  return { name: 'node-fetch', options: resolved, send, close, stats };
}
