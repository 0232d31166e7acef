/**
 * The shallot error family. Every error has a stable `code`; guards check the code (and a
 * global brand) rather than `instanceof`, so two installed copies of shallot still recognise
 * each other's errors.
 */

const brand = Symbol.for('shallot.error');

/** Where a request was going when it failed: used in messages and kept on the error. */
export interface RequestTarget {
  readonly method: string;
  readonly url: URL | string;
}

/** Options shared by every shallot error. */
export interface ShallotErrorOptions {
  /** The error that caused this one. */
  cause?: unknown;
  /** The request that failed, named in the message. */
  request?: RequestTarget | undefined;
}

/**
 * Removes user info (credentials) from a URL before it is printed.
 *
 * @example
 * redactUrlCredentials('https://user:secret@example.com/a') // 'https://example.com/a'
 */
export function redactUrlCredentials(url: URL | string): string {
  if (typeof url === 'string') {
    if (!url.includes('@')) return url;
    try {
      url = new URL(url);
    } catch {
      return url as string;
    }
  }
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

function describeTarget(request: RequestTarget | undefined, message: string): string {
  if (request === undefined) return message;
  return `${request.method} ${redactUrlCredentials(request.url)}: ${message}`;
}

/**
 * The base class of every error shallot throws. `code` is stable across versions.
 */
export class ShallotError extends Error {
  /** A stable machine-readable code such as `ERR_TIMEOUT`. */
  readonly code: string;
  /** The HTTP method of the failed request, when there was one. */
  readonly method: string | undefined;
  /** The URL of the failed request (credentials removed), when there was one. */
  readonly url: string | undefined;

  constructor(code: string, message: string, options: ShallotErrorOptions = {}) {
    super(describeTarget(options.request, message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShallotError';
    this.code = code;
    this.method = options.request?.method;
    this.url = options.request === undefined ? undefined : redactUrlCredentials(options.request.url);
    Object.defineProperty(this, brand, { value: true });
  }
}

/** True for any error thrown by any installed copy of shallot. */
export function isShallotError(error: unknown): error is ShallotError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[brand] === true;
}

/** Makes a guard that recognises a shallot error by its code. */
export function errorGuard<T extends ShallotError>(code: string): (error: unknown) => error is T {
  return (error: unknown): error is T => isShallotError(error) && error.code === code;
}

/**
 * Options did not pass validation. The message names each bad path and value; the zod error is
 * the `cause`.
 */
export class InvalidOptionsError extends ShallotError {
  constructor(message: string, options: ShallotErrorOptions = {}) {
    super('ERR_INVALID_OPTIONS', message, options);
    this.name = 'InvalidOptionsError';
  }
}

/** Which bound a {@link TimeoutError} hit. */
export type TimeoutKind = 'total' | 'attempt' | 'connect' | 'read';

/** A time bound was hit: the whole call, one attempt, the connect or a read. */
export class TimeoutError extends ShallotError {
  /** Which bound was hit. */
  readonly kind: TimeoutKind;
  /** The bound, in milliseconds, when known. */
  readonly timeoutMs: number | undefined;

  constructor(kind: TimeoutKind, timeoutMs: number | undefined, options: ShallotErrorOptions = {}) {
    const bound = timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`;
    super('ERR_TIMEOUT', `${kind} timeout${bound}`, options);
    this.name = 'TimeoutError';
    this.kind = kind;
    this.timeoutMs = timeoutMs;
  }
}

/** The connection failed: refused, reset, DNS, TLS or a socket closed early. `cause` is the socket error. */
export class NetworkError extends ShallotError {
  constructor(message: string, options: ShallotErrorOptions = {}) {
    super('ERR_NETWORK', message, options);
    this.name = 'NetworkError';
  }
}

/** A 4xx or 5xx response with `throwHttpErrors` on. The response (body unread) is `response`. */
export class HttpError extends ShallotError {
  /** The response, its body still readable. */
  readonly response: Response;
  /** The response status. */
  readonly status: number;

  constructor(response: Response, options: ShallotErrorOptions = {}) {
    super('ERR_HTTP', `responded ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, options);
    this.name = 'HttpError';
    this.response = response;
    this.status = response.status;
  }
}

/** A middleware broke the `next()` rules, or resolved with something other than a Response. */
export class MiddlewareProtocolError extends ShallotError {
  /** The name of the middleware that broke the rule. */
  readonly middleware: string;

  constructor(middleware: string, message: string, options: ShallotErrorOptions = {}) {
    super('ERR_MIDDLEWARE_PROTOCOL', `middleware '${middleware}' ${message}`, options);
    this.name = 'MiddlewareProtocolError';
    this.middleware = middleware;
  }
}

/** A stream body was already sent once and cannot be sent again. */
export class BodyNotReplayableError extends ShallotError {
  constructor(options: ShallotErrorOptions = {}) {
    super(
      'ERR_BODY_NOT_REPLAYABLE',
      'the request body is a stream that was already sent; pass a string, bytes, Blob, FormData, URLSearchParams or json to allow re-sending',
      options,
    );
    this.name = 'BodyNotReplayableError';
  }
}

/** A request was made on a client after `close()`. */
export class ClientClosedError extends ShallotError {
  constructor(options: ShallotErrorOptions = {}) {
    super('ERR_CLIENT_CLOSED', 'the client is closed', options);
    this.name = 'ClientClosedError';
  }
}

/** True for an {@link InvalidOptionsError} from any copy of shallot. */
export const isInvalidOptionsError = errorGuard<InvalidOptionsError>('ERR_INVALID_OPTIONS');
/** True for a {@link TimeoutError} from any copy of shallot. */
export const isTimeoutError = errorGuard<TimeoutError>('ERR_TIMEOUT');
/** True for a {@link NetworkError} from any copy of shallot. */
export const isNetworkError = errorGuard<NetworkError>('ERR_NETWORK');
/** True for an {@link HttpError} from any copy of shallot. */
export const isHttpError = errorGuard<HttpError>('ERR_HTTP');
/** True for a {@link MiddlewareProtocolError} from any copy of shallot. */
export const isMiddlewareProtocolError = errorGuard<MiddlewareProtocolError>('ERR_MIDDLEWARE_PROTOCOL');
/** True for a {@link BodyNotReplayableError} from any copy of shallot. */
export const isBodyNotReplayableError = errorGuard<BodyNotReplayableError>('ERR_BODY_NOT_REPLAYABLE');
/** True for a {@link ClientClosedError} from any copy of shallot. */
export const isClientClosedError = errorGuard<ClientClosedError>('ERR_CLIENT_CLOSED');
