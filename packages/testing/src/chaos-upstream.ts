import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { parseOptions } from '@shallot/core';
import { z } from 'zod';
import { seededRandom } from './seeded-random.js';

/** The faults {@link createChaosUpstream} injects, in the order they are drawn. */
export const chaosFaultKinds = [
  'refused',
  'resetHeaders',
  'resetBody',
  'hang',
  'trickle',
  'truncated',
  'serverErrorBurst',
  'tooManyRequests',
  'invalidHeader',
  'bigBody',
] as const;

/** One fault {@link createChaosUpstream} injects. */
export type ChaosFaultKind = (typeof chaosFaultKinds)[number];

/** What one arrival (or, for `refused`, one request sent to the closed port) got. */
export type ChaosOutcomeKind = ChaosFaultKind | 'success';

const rate = z.number().min(0).max(1);

/** The share of requests that get each fault; whatever is left succeeds. */
export const chaosRatesSchema = z
  .strictObject({
    /** Sent by {@link ChaosUpstream.nextOrigin} to a closed port: the connection is refused. @default 0.01 */
    refused: rate.default(0.01),
    /** The socket is reset in the middle of the response headers. @default 0.02 */
    resetHeaders: rate.default(0.02),
    /** The socket is reset in the middle of the body. @default 0.02 */
    resetBody: rate.default(0.02),
    /** No answer at all, until the client goes away. @default 0.005 */
    hang: rate.default(0.005),
    /** A 200 whose body comes in small pieces, `trickle.chunkDelayMs` apart. @default 0.02 */
    trickle: rate.default(0.02),
    /** A `Content-Length` larger than the body sent, then the socket closes. @default 0.02 */
    truncated: rate.default(0.02),
    /** Starts a burst: every arrival for the next `burstMs` answers 500, 502, 503 or 504. @default 0.001 */
    serverErrorBurst: rate.default(0.001),
    /** 429 with `Retry-After: retryAfterSeconds`. @default 0.02 */
    tooManyRequests: rate.default(0.02),
    /** A response whose header bytes no HTTP parser accepts. @default 0.01 */
    invalidHeader: rate.default(0.01),
    /** A 200 with a body of `bigBodyBytes` (10 MiB by default). @default 0.002 */
    bigBody: rate.default(0.002),
  })
  .refine((rates) => Object.values(rates).reduce((a, b) => a + b, 0) <= 1, { message: 'the rates add up to more than 1' });

/** Options of {@link createChaosUpstream}. */
export const chaosUpstreamOptionsSchema = z.strictObject({
  /** Seed of the fault sequence: the same seed draws the same faults in the same order of arrival. @default 1 */
  seed: z.number().int().default(1),
  /** The share of requests that get each fault. */
  rates: chaosRatesSchema.default(chaosRatesSchema.parse({})),
  /** How long one 5xx burst lasts, `[min, max]` milliseconds. @default [20, 100] */
  burstMs: z.tuple([z.number().min(0), z.number().min(0)]).default([20, 100]),
  /** The pieces of a trickled body and the pause between them. @default { chunks: 5, chunkDelayMs: 20 } */
  trickle: z.strictObject({ chunks: z.number().int().min(1).default(5), chunkDelayMs: z.number().min(0).default(20) }).default({ chunks: 5, chunkDelayMs: 20 }),
  /** Size of the `bigBody` fault's body. @default 10 MiB */
  bigBodyBytes: z.number().int().positive().default(10 * 1024 * 1024),
  /** `Retry-After` of the 429s, in seconds. @default 1 */
  retryAfterSeconds: z.number().int().min(0).default(1),
  /** Serve HTTPS with these `node:https` options (key and cert). */
  tls: z.custom<https.ServerOptions>((v) => typeof v === 'object' && v !== null, { message: 'expected node:https server options' }).optional(),
  /**
   * A request header holding a non-negative integer (a request's own id): arrivals are counted
   * per value, so a test can tell whether a request reached the upstream more than once.
   * @default 'x-chaos-tag'
   */
  tagHeader: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP header name').default('x-chaos-tag'),
  /** Tags counted: values from 0 to `maxTags - 1` (larger ones are ignored). @default 1_048_576 */
  maxTags: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
});

/** What users pass to {@link createChaosUpstream}. */
export type ChaosUpstreamOptions = z.input<typeof chaosUpstreamOptionsSchema>;
/** The rates, as users pass them. */
export type ChaosRates = z.input<typeof chaosRatesSchema>;

/** Counts of what the upstream did. */
export interface ChaosUpstreamStats {
  /** Requests that reached the live listener. */
  arrivals: number;
  /** What each arrival got (and, for `refused`, each request sent to the closed port). */
  injected: Record<ChaosOutcomeKind, number>;
  /** 5xx bursts started (`injected.serverErrorBurst` counts the arrivals they answered). */
  bursts: number;
}

/** A loopback upstream that misbehaves at seeded rates. */
export interface ChaosUpstream extends AsyncDisposable {
  /** The live origin (`http://127.0.0.1:<port>`, or https). */
  readonly url: string;
  /** An origin on a closed port: connections to it are refused. */
  readonly refusedUrl: string;
  /**
   * Draws where the next request goes: {@link refusedUrl} at the `refused` rate (counted as
   * injected), {@link url} otherwise.
   */
  nextOrigin(): string;
  /** How many times a request with this tag (see `tagHeader`) arrived. */
  arrivals(tag: number): number;
  /** Tags that arrived more than once. */
  repeatedTags(): number;
  /** The counts so far. */
  stats(): ChaosUpstreamStats;
  /** Connections accepted so far, and open now. */
  connections(): { opened: number; open: number };
  /** Closes the listener and every connection (hung ones too), and stops trickling bodies. */
  close(): Promise<void>;
}

const serverErrors = [500, 502, 503, 504];

/** Resets a connection (a TCP RST); a TLS socket, which cannot send one, is destroyed. */
function reset(socket: Socket): void {
  if (socket instanceof TLSSocket) socket.destroy();
  else socket.resetAndDestroy();
}
const successBody = Buffer.from('{"ok":true}');

async function closedPortUrl(scheme: string): Promise<string> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `${scheme}://127.0.0.1:${port}`;
}

/**
 * Starts a real loopback HTTP(S) server that answers each request with a fault drawn at seeded
 * rates: a reset in the headers or the body, a hung socket, a trickled or truncated body, a 5xx
 * burst (every arrival for some milliseconds), a 429 with `Retry-After`, header bytes no parser
 * accepts, a 10 MiB body, or a small JSON 200 (with `cache-control: max-age=2` on
 * `GET /cacheable/...`, `no-store` elsewhere).
 * Refused connections come from {@link ChaosUpstream.nextOrigin}, which sends a share of
 * requests to a closed port. Arrivals are counted per tag header, to prove that a request was
 * not sent twice.
 *
 * @example
 * await using upstream = await createChaosUpstream({ seed: 7, rates: { hang: 0 } });
 * const res = await client.get(`${upstream.nextOrigin()}/items`, { headers: { 'x-chaos-tag': '1' } });
 * upstream.arrivals(1); // 0 or 1
 */
export async function createChaosUpstream(options: ChaosUpstreamOptions = {}): Promise<ChaosUpstream> {
  const resolved = parseOptions(chaosUpstreamOptionsSchema, options, 'createChaosUpstream');
  const { rates, trickle } = resolved;
  const draw = seededRandom(resolved.seed);
  const injected = Object.fromEntries([...chaosFaultKinds, 'success'].map((k) => [k, 0])) as Record<ChaosOutcomeKind, number>;
  const tags = new Uint8Array(resolved.maxTags);
  let repeated = 0;
  let arrivals = 0;
  let burstUntil = 0;
  let bursts = 0;
  let opened = 0;
  const open = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const bigBody = Buffer.alloc(resolved.bigBodyBytes, 0x61);
  const trickleChunk = Buffer.alloc(256, 0x62);
  const tagHeader = resolved.tagHeader.toLowerCase();
  // Server-side kinds are drawn among arrivals, which the refused share never reaches.
  const live = 1 - rates.refused;
  const serverKinds = chaosFaultKinds.filter((k) => k !== 'refused');

  const decide = (): ChaosOutcomeKind => {
    if (burstUntil > 0) {
      if (performance.now() < burstUntil) return 'serverErrorBurst';
      burstUntil = 0;
    }
    let r = draw() * (live > 0 ? live : 1);
    for (const kind of serverKinds) {
      r -= rates[kind];
      if (r < 0) {
        if (kind === 'serverErrorBurst') {
          const [min, max] = resolved.burstMs;
          burstUntil = performance.now() + min + draw() * Math.max(0, max - min);
          bursts++;
        }
        return kind;
      }
    }
    return 'success';
  };

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const answer = (kind: ChaosOutcomeKind, req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket;
    switch (kind) {
      case 'hang':
        return;
      case 'resetHeaders':
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: appl', () => reset(socket));
        return;
      case 'resetBody':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '65536', 'cache-control': 'no-store' });
        res.write(trickleChunk.subarray(0, 200), () => reset(socket));
        return;
      case 'truncated':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '4096', 'cache-control': 'no-store' });
        res.write(trickleChunk, () => socket.destroySoon());
        return;
      case 'invalidHeader':
        socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Chaos\u0001Bad: \u0000yes\r\n\r\nok');
        return;
      case 'serverErrorBurst': {
        const status = serverErrors[injected.serverErrorBurst % serverErrors.length] ?? 503;
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end('{"error":"burst"}');
        return;
      }
      case 'tooManyRequests':
        res.writeHead(429, { 'retry-after': String(resolved.retryAfterSeconds), 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end('{"error":"slow down"}');
        return;
      case 'bigBody':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bigBody.length), 'cache-control': 'no-store' });
        res.end(bigBody);
        return;
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(trickle.chunks * trickleChunk.length), 'cache-control': 'no-store' });
        let sent = 0;
        const step = (): void => {
          if (res.destroyed) return;
          sent++;
          if (sent < trickle.chunks) {
            res.write(trickleChunk);
            later(trickle.chunkDelayMs, step);
          } else res.end(trickleChunk);
        };
        later(trickle.chunkDelayMs, step);
        return;
      }
      case 'refused':
      case 'success': {
        const cacheable = req.method === 'GET' && req.url?.startsWith('/cacheable/') === true;
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(successBody.length),
          'cache-control': cacheable ? 'max-age=2' : 'no-store',
        });
        res.end(successBody);
        return;
      }
    }
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    arrivals++;
    const tag = Number(req.headers[tagHeader]);
    if (Number.isInteger(tag) && tag >= 0 && tag < tags.length) {
      const seen = tags[tag] ?? 0;
      if (seen === 1) repeated++;
      if (seen < 255) tags[tag] = seen + 1;
    }
    req.on('error', () => {});
    res.on('error', () => {});
    req.resume();
    req.on('end', () => {
      if (res.destroyed) return;
      const kind = decide();
      injected[kind]++;
      answer(kind, req, res);
    });
  };

  const server = resolved.tls === undefined ? http.createServer(handle) : https.createServer(resolved.tls, handle);
  server.keepAliveTimeout = 5_000;
  server.on(resolved.tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
    opened++;
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => open.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  if (resolved.tls !== undefined) server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const scheme = resolved.tls === undefined ? 'http' : 'https';
  const url = `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const refusedUrl = await closedPortUrl(scheme);

  let closing: Promise<void> | undefined;
  const upstream: ChaosUpstream = {
    url,
    refusedUrl,
    nextOrigin() {
      if (rates.refused > 0 && draw() < rates.refused) {
        injected.refused++;
        return refusedUrl;
      }
      return url;
    },
    arrivals: (tag) => tags[tag] ?? 0,
    repeatedTags: () => repeated,
    stats: () => ({ arrivals, injected: { ...injected }, bursts }),
    connections: () => ({ opened, open: open.size }),
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        const sockets = [...open].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of open) socket.destroy();
        server.closeAllConnections();
        await Promise.all([closed, ...sockets]);
      })();
      return closing;
    },
    [Symbol.asyncDispose]: () => upstream.close(),
  };
  return upstream;
}
