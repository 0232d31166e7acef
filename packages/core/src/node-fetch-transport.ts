import * as http from 'node:http';
import * as https from 'node:https';
import type { ConnectionOptions as TlsConnectOptions, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Readable } from 'node:stream';
import type { RequestInit as NodeFetchInit, Response as NodeFetchResponse } from 'node-fetch';
import { z } from 'zod';
import { HttpProxyAgent } from 'http-proxy-agent';
import { type AnyAgent, closeIdleSockets, dropFreeSockets, guardConnect, maxAgents, sendCapturing, type SentRequest, throughSocketPath } from './node-agents.js';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { type BaseContext, type Hop, scopeOf } from './context.js';
import { ClientClosedError, isShallotError, NetworkError } from './errors.js';
import { describeDecoded, planBody, shapeBody } from './response-body.js';
import { environmentHasProxy, payloadLength, proxyFor, wireHeaders, withUploadProgress } from './wire.js';
import { parseOptions } from './parse-options.js';
import { isNullBodyStatus, LazyResponse } from './response.js';
import { firstHop, hopTls, nextHop, redirectStatuses, runRedirectHooks } from './redirect.js';
import { tlsKey, type TlsOptions } from './tls-options.js';
import { type TransportSignal, transportSignal } from './transport-signal.js';
import {
  assertSendable,
  isStaleSocketError,
  resendable,
  NodeStreamSource,
  poolOptionsShape,
  toTransportError,
  type Transport,
  type TransportStats,
} from './transport.js';

/** Options of {@link nodeFetchTransport}. */
export const nodeFetchTransportOptionsSchema = z.strictObject({
  // maxOrigins: the agent keeps at most maxSockets × maxOrigins sockets in all.
  ...poolOptionsShape,
  /** How long an idle keep-alive socket is kept. */
  keepAliveMs: z.number().int().min(1).default(4_000),
  /**
   * An `http.Agent` of your own (a proxy agent from the node-fetch ecosystem, say), or a function
   * that picks one per URL; it replaces the pooled agents, the connect timeout and `proxy`.
   */
  agent: z
    .custom<AgentOption>((v) => v instanceof http.Agent || typeof v === 'function', { message: 'expected an http.Agent or a function (url) => Agent' })
    .optional(),
});

/** The `agent` option: one agent, or one per URL. */
export type AgentOption = http.Agent | ((url: URL) => http.Agent);

/** What users pass to {@link nodeFetchTransport}. */
export type NodeFetchTransportOptions = z.input<typeof nodeFetchTransportOptionsSchema>;
/** {@link NodeFetchTransportOptions} with defaults applied. */
export type ResolvedNodeFetchTransportOptions = z.output<typeof nodeFetchTransportOptionsSchema>;


type NodeFetch = (url: string, init: NodeFetchInit) => Promise<NodeFetchResponse>;
let loadingFetch: Promise<NodeFetch> | undefined;
let loadedFetch: NodeFetch | undefined;

// node-fetch is loaded on the first request, so users of the default transport never pay for it.
function loadFetch(): Promise<NodeFetch> {
  return (loadingFetch ??= import('node-fetch').then((module) => (loadedFetch = module.default)));
}

/**
 * Throws when the request was aborted while it was being prepared (a body read, node-fetch
 * loading): node-fetch handed an aborted signal destroys the request's body stream with nobody
 * listening, an uncaught exception. The caller maps the throw to the abort's reason.
 */
function notAborted(ctx: BaseContext, init: NodeFetchInit): void {
  if (ctx.aborted || (init.signal as { aborted?: boolean } | null | undefined)?.aborted === true) {
    throw new DOMException('aborted before it was sent', 'AbortError');
  }
}

function toHeaders(response: NodeFetchResponse): Headers {
  const headers = new Headers();
  const raw = response.headers.raw();
  for (const name in raw) for (const value of raw[name] as string[]) headers.append(name, value);
  return headers;
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
  const sweeps = new Map<AnyAgent, () => void>();
  const destroy = (agent: AnyAgent): void => {
    sweeps.get(agent)?.();
    sweeps.delete(agent);
    agent.destroy();
  };
  // node-fetch keeps only the code of a socket error, so an error our checkServerIdentity
  // returned (a pinning failure) is kept here by host and handed back in its place.
  const identityErrors = new Map<string, Error>();
  let closed = false;

  function withIdentityErrors(tls: TlsOptions | undefined): TlsOptions | undefined {
    const check = tls?.checkServerIdentity;
    if (tls === undefined || check === undefined) return tls;
    return {
      ...tls,
      checkServerIdentity: (host, cert) => {
        const error = check(host, cert);
        if (error !== undefined) identityErrors.set(host, error);
        return error;
      },
    };
  }

  // With verifyPeer, the agent gets a socket only once the handshake is done and the check
  // passed: Node's agent waits for createConnection's callback when it returns nothing.
  function verifyBeforeUse(agent: AnyAgent, verifyPeer: (socket: TLSSocket) => Error | undefined): AnyAgent {
    const pooled = agent as unknown as { createConnection: (options: TlsConnectOptions, callback: (error: Error | null, socket?: Duplex) => void) => Duplex | undefined };
    const create = pooled.createConnection.bind(agent);
    pooled.createConnection = (options, callback) => {
      const socket = create(options, () => {}) as TLSSocket;
      let settled = false;
      const settle = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        socket.off('error', settle);
        if (error === null) return callback(null, socket);
        const host = options.servername || options.host;
        if (typeof host === 'string' && isShallotError(error)) identityErrors.set(host, error);
        socket.destroy();
        callback(error);
      };
      socket.once('secureConnect', () => settle(verifyPeer(socket) ?? null));
      socket.once('error', settle);
      return undefined;
    };
    return agent;
  }

  function identityError(error: unknown, tls: TlsOptions | undefined, url: URL): unknown {
    const host = tls?.servername ?? url.hostname;
    const stored = identityErrors.get(host);
    if (stored === undefined) return error;
    identityErrors.delete(host);
    const code = (error as { code?: unknown } | null)?.code;
    return code !== undefined && code === (stored as { code?: unknown }).code ? stored : error;
  }

  function agentFor(secure: boolean, tls: TlsOptions | undefined, connectMs: number | undefined): AnyAgent {
    const key = `${secure ? 's' : 'p'}|${secure ? tlsKey(tls) : ''}|${connectMs ?? ''}`;
    let agent = agents.get(key);
    if (agent !== undefined) return agent;
    const base = {
      keepAlive: true,
      maxSockets: resolved.maxSockets,
      maxFreeSockets: resolved.maxSockets,
      maxTotalSockets: resolved.maxSockets * resolved.maxOrigins,
      scheduling: 'lifo' as const,
    };
    agent = guardConnect(
      throughSocketPath(secure ? new https.Agent({ ...base, ...(withIdentityErrors(tls) ?? {}) }) : new http.Agent(base), resolved.socketPath),
      connectMs,
      secure,
    );
    if (secure && tls?.verifyPeer !== undefined) agent = verifyBeforeUse(agent, tls.verifyPeer);
    sweeps.set(agent, closeIdleSockets(agent, resolved.keepAliveMs));
    agents.set(key, agent);
    if (agents.size > maxAgents) {
      const [oldestKey, oldest] = agents.entries().next().value as [string, AnyAgent];
      agents.delete(oldestKey);
      destroy(oldest);
    }
    return agent;
  }

  const proxyAgents = new Map<string, AnyAgent>();
  const useProxy = resolved.proxy !== undefined && (resolved.proxy !== 'env' || environmentHasProxy());

  function proxyAgentFor(proxy: string, url: URL, tls: TlsOptions | undefined): AnyAgent {
    const secure = url.protocol === 'https:';
    const key = `${proxy}|${secure ? `s|${tlsKey(tls)}` : 'p'}`;
    let agent = proxyAgents.get(key);
    if (agent === undefined) {
      const base = { keepAlive: true, maxSockets: resolved.maxSockets, maxFreeSockets: resolved.maxSockets, scheduling: 'lifo' as const };
      if (secure) {
        const tunnel = new HttpsProxyAgent(proxy, base);
        // The agent's own options reach every request's TLS handshake with the origin (through
        // the tunnel); the constructor's reach only the proxy connection.
        Object.assign(tunnel.options, tls ?? {});
        agent = tunnel;
      } else {
        agent = new HttpProxyAgent(proxy, base);
      }
      proxyAgents.set(key, agent);
    }
    return agent;
  }

  function chooseAgent(url: URL, tls: TlsOptions | undefined, connectMs: number | undefined): AnyAgent {
    const own = resolved.agent;
    if (own !== undefined) return typeof own === 'function' ? own(url) : own;
    if (useProxy) {
      const proxy = proxyFor(url, resolved.proxy);
      if (proxy !== undefined) return proxyAgentFor(proxy, url, tls);
    }
    return agentFor(url.protocol === 'https:', tls, connectMs);
  }

  async function fetchHop(ctx: BaseContext, hop: Hop, init: NodeFetchInit, agent: AnyAgent): Promise<NodeFetchResponse> {
    const fetch = loadedFetch ?? (await loadFetch());
    const sent: SentRequest = {};
    try {
      notAborted(ctx, init);
      return await sendCapturing(sent, agent, () => fetch(hop.url.href, { ...init, agent }));
    } catch (error) {
      // A kept-alive socket the server had closed fails before any response byte: send once
      // more on a fresh socket when it was a reused one and nothing can have been acted on twice
      // (an idempotent request whose body can be sent again).
      if (sent.request?.reusedSocket !== true || !isStaleSocketError(error) || !resendable(ctx, hop) || ctx.aborted) throw error;
      dropFreeSockets(agent, hop.url);
      const again = hop.sendBody && ctx.request.body !== null ? await ctx.request.body.take(ctx.request) : undefined;
      notAborted(ctx, init);
      return fetch(hop.url.href, { ...init, agent, body: (again?.data ?? init.body) as NodeFetchInit['body'] });
    }
  }

  async function send(ctx: BaseContext): Promise<Response> {
    if (closed) throw new ClientClosedError({ request: ctx.request });
    const scope = scopeOf(ctx);
    if (scope.aborted) throw scope.reason;
    const request = ctx.request;
    const connectMs = ctx.timeouts.connectMs ?? resolved.connectTimeoutMs;
    // node-fetch keeps reading the body under this signal, so the caller's abort still reaches
    // it; it also bounds the wait for headers (readMs, else headersTimeoutMs).
    const signal = transportSignal(scope, ctx, ctx.timeouts.readMs ?? resolved.headersTimeoutMs) as TransportSignal;
    let hop = firstHop(request);
    try {
      for (let redirects = 0; ; redirects++) {
        const url = hop.url;
        assertSendable(url, ctx, 'nodeFetchTransport');
        const body = hop.sendBody ? request.body : null;
        const payload = body === null ? undefined : (body.takeSync() ?? (await body.take(request)));
        const progress = payload === undefined ? undefined : request.onUploadProgress;
        const upload = progress === undefined || payload === undefined ? payload?.data : withUploadProgress(payload, progress, ctx);
        const streamedLength = payload !== undefined && typeof upload === 'object' && !(upload instanceof Uint8Array) ? payloadLength(payload) : undefined;
        const wire = wireHeaders(hop.headers, payload, resolved.decompress, streamedLength);
        const headers: Record<string, string> = {};
        for (let i = 0; i < wire.flat.length; i += 2) headers[wire.flat[i] as string] = wire.flat[i + 1] as string;
        const tls = hopTls(ctx, url);
        let response: NodeFetchResponse;
        try {
          response = await fetchHop(
            ctx,
            hop,
            {
              method: hop.method,
              headers,
              body: (upload ?? null) as NodeFetchInit['body'],
              // Redirects are followed here, as the undici transport does, so both behave alike;
              // bodies are decoded here too, so headers describe what the caller reads.
              redirect: 'manual',
              compress: false,
              signal: signal as unknown as NodeFetchInit['signal'],
            },
            chooseAgent(url, tls, connectMs),
          );
        } catch (error) {
          throw toTransportError(url.protocol === 'https:' ? identityError(error, tls, url) : error, ctx, signal);
        }
        signal.headersDone();
        const status = response.status;
        const stream = response.body as unknown as Readable | null;
        if (status < 100 || status > 599) {
          stream?.destroy();
          throw new NetworkError(`the server answered with an invalid status ${status}`, { request });
        }
        const location = redirectStatuses.has(status) && request.redirect !== 'manual' ? response.headers.get('location') : null;
        if (location === null) {
          // node-fetch lets go of the signal only when a body ends; one that fails or is
          // cancelled half-way would leave a watch on the caller's signal.
          stream?.once('close', () => signal.release());
          const nullBody = hop.method === 'HEAD' || isNullBodyStatus(status);
          const init = { status, statusText: response.statusText, url: url.href, redirected: redirects > 0, nullBody, protocol: '1.1' };
          if (stream === null || nullBody) return new LazyResponse(stream === null ? undefined : new NodeStreamSource(stream, () => toHeaders(response), ctx), init, toHeaders(response));
          const plan = planBody(ctx, { get: (name) => response.headers.get(name) ?? undefined }, { decompress: resolved.decompress, maxResponseBytes: resolved.maxResponseBytes, weAskedForCompression: wire.compression });
          const shaped = plan === undefined ? stream : shapeBody(stream, plan, ctx);
          const headersOf = plan === undefined ? () => toHeaders(response) : () => describeDecoded(toHeaders(response), plan);
          return new LazyResponse(new NodeStreamSource(shaped, headersOf, ctx), init);
        }
        stream?.resume();
        hop = nextHop(hop, status, location, redirects, resolved.maxRedirects, ctx);
        if (ctx.redirectHooks !== undefined) await runRedirectHooks(ctx, { status, from: url, responseHeaders: toHeaders(response), to: hop });
      }
    } finally {
      signal.headersDone();
    }
  }

  async function close(): Promise<void> {
    closed = true;
    for (const agent of agents.values()) destroy(agent);
    agents.clear();
    for (const agent of proxyAgents.values()) agent.destroy();
    proxyAgents.clear();
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
