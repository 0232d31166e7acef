import type { BaseContext } from './context.js';
import { isShallotError, NetworkError, TimeoutError } from './errors.js';
import { abortReason } from './signals.js';

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
export function toTransportError(error: unknown, ctx: BaseContext, signal: AbortSignal = ctx.signal): unknown {
  if (signal.aborted) return abortReason(signal);
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
  const message = error instanceof Error ? error.message : String(error);
  return new NetworkError(code === undefined || message.includes(code) ? message : `${message} (${code})`, { request, cause: error });
}

/** Statuses that carry a redirect the transport follows. */
export const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers dropped when a redirect crosses to another origin (as fetch does). */
export const crossOriginSensitiveHeaders: readonly string[] = ['authorization', 'proxy-authorization', 'cookie'];
