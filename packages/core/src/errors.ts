/**
 * The shallot error family. Every error has a stable `code`; guards check the code (and a
 * global brand) rather than `instanceof`, so two installed copies of shallot still recognise
 * each other's errors.
 */

import { redactText, redactUrl } from './redact.js';

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
  /**
   * The message was built by shallot from values it already redacted (an options error): it is
   * not searched for secrets again, which would hide option names such as `cookies.jar`.
   */
  messageIsSafe?: boolean | undefined;
}

/**
 * Removes user info (credentials) from a URL before it is printed, and the values of sensitive
 * query keys (see `redactUrl`).
 *
 * @example
 * redactUrlCredentials('https://user:secret@example.com/a?token=t') // 'https://example.com/a?token=[REDACTED]'
 */
export function redactUrlCredentials(url: URL | string): string {
  return redactUrl(url);
}

function describeTarget(request: RequestTarget | undefined, message: string, safe: boolean): string {
  const text = safe ? message : redactText(message);
  if (request === undefined) return text;
  return `${request.method} ${redactUrl(request.url)}: ${text}`;
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
    super(describeTarget(options.request, message, options.messageIsSafe === true), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ShallotError';
    this.code = code;
    this.method = options.request?.method;
    this.url = options.request === undefined ? undefined : redactUrl(options.request.url);
    Object.defineProperty(this, brand, { value: true });
  }

  /** What `JSON.stringify` shows: name, code, message, method and URL (all redacted), and the cause's. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.name, code: this.code, message: this.message };
    for (const key of Object.keys(this)) {
      const value = (this as unknown as Record<string, unknown>)[key];
      if (value === undefined || typeof value === 'function' || (typeof value === 'object' && value !== null)) continue;
      out[key] = typeof value === 'string' ? redactText(value) : value;
    }
    const cause = this.cause;
    if (cause instanceof Error) out.cause = isShallotError(cause) ? cause.toJSON() : { name: cause.name, message: redactText(cause.message) };
    return out;
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
    super('ERR_INVALID_OPTIONS', message, { messageIsSafe: true, ...options });
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
  /**
   * The response, its body still readable. Not enumerable: `util.inspect` and logs of the error
   * do not print its headers (a `Set-Cookie`, say).
   */
  declare readonly response: Response;
  /** The response status. */
  readonly status: number;
  /**
   * The start of the body (up to 64 KiB, decoded as UTF-8), already read when the client threw
   * it; `undefined` when the error was made without reading it. Not enumerable, like `response`.
   */
  declare readonly bodyText: string | undefined;

  constructor(response: Response, options: ShallotErrorOptions & { bodyText?: string | undefined } = {}) {
    const snippet = options.bodyText === undefined || options.bodyText === '' ? '' : `: ${options.bodyText.length > 200 ? `${options.bodyText.slice(0, 197)}...` : options.bodyText}`;
    super('ERR_HTTP', `responded ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${snippet}`, options);
    this.name = 'HttpError';
    Object.defineProperty(this, 'response', { value: response, enumerable: false });
    Object.defineProperty(this, 'bodyText', { value: options.bodyText, enumerable: false });
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

/** A response body grew past `maxResponseBytes` (decoded bytes). */
export class ResponseTooLargeError extends ShallotError {
  /** The bound that was passed, in bytes. */
  readonly maxBytes: number;

  constructor(maxBytes: number, options: ShallotErrorOptions = {}) {
    super('ERR_RESPONSE_TOO_LARGE', `the response body is larger than maxResponseBytes (${maxBytes} bytes)`, options);
    this.name = 'ResponseTooLargeError';
    this.maxBytes = maxBytes;
  }
}

/** One place a response body failed its schema. */
export interface ValidationIssue {
  /** Where in the body: `items.0.id` (empty for the root). */
  readonly path: string;
  /** What was wrong there. */
  readonly message: string;
}

/** A response body did not match the schema given to `res.json(schema)`. `issues` names each path. */
export class ResponseValidationError extends ShallotError {
  /** Every failure, with its path. */
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], options: ShallotErrorOptions = {}) {
    const first = issues.slice(0, 3).map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('; ');
    super('ERR_RESPONSE_VALIDATION', `the response body does not match its schema: ${first}${issues.length > 3 ? `; and ${issues.length - 3} more` : ''}`, options);
    this.name = 'ResponseValidationError';
    this.issues = issues;
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
const isShallotTimeout = errorGuard<TimeoutError>('ERR_TIMEOUT');

/** The DOMException an `AbortSignal.timeout()` aborts with; it has no `kind` or `timeoutMs`. */
export type AbortTimeoutError = DOMException & { readonly name: 'TimeoutError'; readonly kind?: undefined; readonly timeoutMs?: undefined };

/**
 * True for a {@link TimeoutError} from any copy of shallot, and for the `TimeoutError`
 * DOMException an `AbortSignal.timeout()` aborts with (a caller's own timeout signal).
 */
export function isTimeoutError(error: unknown): error is TimeoutError | AbortTimeoutError {
  if (isShallotTimeout(error)) return true;
  return error instanceof DOMException && error.name === 'TimeoutError';
}
/** True for a {@link NetworkError} from any copy of shallot. */
export const isNetworkError = errorGuard<NetworkError>('ERR_NETWORK');
/** True for an {@link HttpError} from any copy of shallot. */
export const isHttpError = errorGuard<HttpError>('ERR_HTTP');
/** True for a {@link MiddlewareProtocolError} from any copy of shallot. */
export const isMiddlewareProtocolError = errorGuard<MiddlewareProtocolError>('ERR_MIDDLEWARE_PROTOCOL');
/** True for a {@link BodyNotReplayableError} from any copy of shallot. */
export const isBodyNotReplayableError = errorGuard<BodyNotReplayableError>('ERR_BODY_NOT_REPLAYABLE');
/** True for a {@link ResponseTooLargeError} from any copy of shallot. */
export const isResponseTooLargeError = errorGuard<ResponseTooLargeError>('ERR_RESPONSE_TOO_LARGE');
/** True for a {@link ResponseValidationError} from any copy of shallot. */
export const isResponseValidationError = errorGuard<ResponseValidationError>('ERR_RESPONSE_VALIDATION');
/** True for a {@link ClientClosedError} from any copy of shallot. */
export const isClientClosedError = errorGuard<ClientClosedError>('ERR_CLIENT_CLOSED');
