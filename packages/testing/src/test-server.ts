import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { PeerCertificate } from 'node:tls';

/** A request the test server received. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  /** The path alone. */
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The whole request body. */
  readonly body: Buffer;
  /** When it arrived (`Date.now()`). */
  readonly at: number;
  /** True when the client went away before the response was finished. */
  aborted: boolean;
  /** The peer certificate of a TLS client, when one was presented. */
  readonly peerCertificate?: PeerCertificate | undefined;
}

/** One scripted reply. */
export interface Reply {
  /** @default 200 */
  status?: number;
  headers?: Record<string, string | readonly string[]>;
  /** A raw body. */
  body?: string | Uint8Array;
  /** A JSON body (sets `content-type`). */
  json?: unknown;
  /** Wait this long before sending the headers. */
  delayMs?: number;
  /** Send the body in these chunks, `chunkDelayMs` apart (a slow body). */
  chunks?: readonly (string | Uint8Array)[];
  chunkDelayMs?: number;
  /**
   * `reset`: destroy the socket without answering; `hang`: never answer; `truncate`: announce a
   * longer body than is sent, then close the socket.
   */
  action?: 'reset' | 'hang' | 'truncate';
  /** In a sequence: how many requests get this reply before the next one. @default 1 */
  times?: number;
  /** Sets `ETag` and answers 304 to a matching `If-None-Match`. */
  etag?: string;
  /** Sets `Last-Modified` and answers 304 to an `If-Modified-Since` at or after it. */
  lastModified?: string;
  /** Sets `Retry-After` (seconds, or an HTTP date). */
  retryAfter?: number | string;
}

/** A route handled by code: full control over the response. */
export type RouteHandler = (request: RecordedRequest, response: http.ServerResponse, raw: http.IncomingMessage) => void | Promise<void>;

/** What a route answers: one reply, a sequence (the last one repeats), or a handler. */
export type RouteSpec = Reply | readonly Reply[] | RouteHandler;

/** Options of {@link createTestServer}. */
export interface TestServerOptions {
  /** Serve HTTPS with these `node:https` options (key, cert, ca, requestCert...). */
  tls?: https.ServerOptions;
  /** Listen on this port (to bring a server back where one was closed). @default an ephemeral port */
  port?: number;
}

/** A real loopback HTTP(S) server with scripted routes and hit counters. */
export interface TestServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` (or https). */
  readonly url: string;
  readonly port: number;
  readonly server: http.Server | https.Server;
  /** Scripts `path` (exact pathname match; `*` matches every path not otherwise routed). */
  route(path: string, spec: RouteSpec): TestServer;
  /** Requests received for `path`, or for all paths. */
  hits(path?: string): number;
  /** The requests received for `path`, or for all paths, oldest first. */
  requests(path?: string): RecordedRequest[];
  /** Connections opened and closed so far, and open now. */
  connections(): { opened: number; closed: number; open: number };
  /** Forgets hits and recorded requests and restarts every sequence; routes stay. */
  reset(): void;
  /** Closes the server and every connection. */
  close(): Promise<void>;
}

/** A sequence that answers `status` (503 by default) `times` times, then `then` (200 `{ ok: true }` by default). */
export function failTimes(times: number, then: Reply = { json: { ok: true } }, failure: Reply = { status: 503 }): Reply[] {
  return [{ ...failure, times }, then];
}

interface RouteState {
  spec: RouteSpec;
  served: number;
}

function pickReply(state: RouteState): Reply | RouteHandler {
  const spec = state.spec;
  state.served++;
  if (typeof spec === 'function') return spec as RouteHandler;
  if (!Array.isArray(spec)) return spec as Reply;
  let n = state.served;
  for (const reply of spec as readonly Reply[]) {
    n -= reply.times ?? 1;
    if (n <= 0) return reply;
  }
  return spec[spec.length - 1] as Reply;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function notModified(reply: Reply, raw: http.IncomingMessage): boolean {
  const inm = raw.headers['if-none-match'];
  if (reply.etag !== undefined && inm !== undefined) {
    return inm.split(',').some((tag) => tag.trim() === reply.etag || tag.trim() === '*');
  }
  const ims = raw.headers['if-modified-since'];
  if (reply.lastModified !== undefined && ims !== undefined) return Date.parse(ims) >= Date.parse(reply.lastModified);
  return false;
}

async function send(reply: Reply, raw: http.IncomingMessage, res: http.ServerResponse, sockets: Set<Socket>): Promise<void> {
  if (reply.delayMs !== undefined) await sleep(reply.delayMs);
  if (res.destroyed) return;
  if (reply.action === 'reset') {
    raw.socket.resetAndDestroy();
    return;
  }
  if (reply.action === 'hang') {
    sockets.add(raw.socket);
    return;
  }
  const headers: Record<string, string | readonly string[]> = { ...reply.headers };
  if (reply.etag !== undefined) headers.etag = reply.etag;
  if (reply.lastModified !== undefined) headers['last-modified'] = reply.lastModified;
  if (reply.retryAfter !== undefined) headers['retry-after'] = String(reply.retryAfter);
  if (notModified(reply, raw)) {
    res.writeHead(304, headers as http.OutgoingHttpHeaders);
    res.end();
    return;
  }
  let body: string | Uint8Array | undefined = reply.body;
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const status = reply.status ?? 200;
  if (reply.action === 'truncate') {
    const bytes = Buffer.from(body ?? 'truncated body');
    res.writeHead(status, { ...headers, 'content-length': String(bytes.length * 2) } as http.OutgoingHttpHeaders);
    res.write(bytes);
    await sleep(5);
    raw.socket.destroy();
    return;
  }
  if (reply.chunks !== undefined) {
    res.writeHead(status, headers as http.OutgoingHttpHeaders);
    res.flushHeaders();
    for (const chunk of reply.chunks) {
      if (reply.chunkDelayMs !== undefined) await sleep(reply.chunkDelayMs);
      if (res.destroyed) return;
      res.write(chunk);
    }
    res.end();
    return;
  }
  res.writeHead(status, headers as http.OutgoingHttpHeaders);
  res.end(body);
}

/**
 * Starts a real `node:http` (or `node:https`) server on 127.0.0.1 with an ephemeral port.
 * Routes are scripted replies: fail N times then succeed, delay, reset the socket, hang,
 * 429/503 with Retry-After, ETag/304, slow or truncated bodies; every request is counted and
 * recorded. Unrouted paths answer 404.
 *
 * @example
 * await using server = await createTestServer();
 * server.route('/flaky', failTimes(2));
 * // ...requests...
 * expect(server.hits('/flaky')).toBe(3);
 */
export async function createTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const routes = new Map<string, RouteState>();
  const recorded: RecordedRequest[] = [];
  const hanging = new Set<Socket>();
  const open = new Set<Socket>();
  let opened = 0;
  let closedCount = 0;

  const handle = (raw: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    raw.on('data', (chunk: Buffer) => chunks.push(chunk));
    raw.on('error', () => {});
    raw.on('end', () => {
      const url = raw.url ?? '/';
      const path = url.split('?')[0] ?? '/';
      const socket = raw.socket as Socket & { getPeerCertificate?: () => PeerCertificate };
      const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      const record: RecordedRequest = {
        method: raw.method ?? 'GET',
        url,
        path,
        headers: raw.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
        aborted: false,
        peerCertificate: cert !== undefined && Object.keys(cert).length > 0 ? cert : undefined,
      };
      recorded.push(record);
      res.on('close', () => {
        if (!res.writableFinished) record.aborted = true;
      });
      const state = routes.get(path) ?? routes.get('*');
      if (state === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`no route for ${path}`);
        return;
      }
      const reply = pickReply(state);
      const done = typeof reply === 'function' ? Promise.resolve(reply(record, res, raw)) : send(reply, raw, res, hanging);
      done.catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  };

  const server = options.tls === undefined ? http.createServer(handle) : https.createServer(options.tls, handle);
  server.keepAliveTimeout = 30_000;
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    opened++;
    open.add(socket);
    socket.on('close', () => {
      closedCount++;
      open.delete(socket);
      hanging.delete(socket);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;

  let closing: Promise<void> | undefined;
  const testServer: TestServer = {
    url,
    port,
    server,
    route(path, spec) {
      routes.set(path, { spec, served: 0 });
      return testServer;
    },
    hits: (path) => (path === undefined ? recorded.length : recorded.filter((r) => r.path === path).length),
    requests: (path) => (path === undefined ? [...recorded] : recorded.filter((r) => r.path === path)),
    connections: () => ({ opened, closed: closedCount, open: open.size }),
    reset() {
      recorded.length = 0;
      for (const state of routes.values()) state.served = 0;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
        server.closeAllConnections?.();
      });
      return closing;
    },
    [Symbol.asyncDispose]: () => testServer.close(),
  };
  return testServer;
}
