import type { BodySource } from './body.js';
import type { CacheMode, RedirectMode } from './context.js';
import { InvalidOptionsError } from './errors.js';
import { formatValue } from './parse-options.js';
import type { TlsOptions } from './tls-options.js';
import { pathOnlyBase } from './transport.js';

/** Headers as a caller may give them. */
export type HeadersInput = Headers | Record<string, string | readonly string[] | undefined> | Iterable<readonly [string, string]>;

/** A query value; arrays repeat the key, `undefined` and `null` are skipped. */
export type SearchParamValue = string | number | boolean | null | undefined | readonly (string | number | boolean)[];

/** Query parameters as a caller may give them; they are set on the URL's own query. */
export type SearchParamsInput = string | URLSearchParams | Record<string, SearchParamValue> | readonly (readonly [string, string])[];

/** Per-request options: fetch's `RequestInit` plus shallot's own. */
export interface RequestOptions {
  /** The method. @default 'GET' (or the method of `request()` and the verb helpers) */
  method?: string;
  /** Request headers, merged over the client's. */
  headers?: HeadersInput;
  /** The body; a stream is sent once and never re-sent. */
  body?: BodySource | null;
  /** A JSON body: serialised, with `content-type: application/json` unless one is set. */
  json?: unknown;
  /** Query parameters set on the URL. */
  searchParams?: SearchParamsInput;
  /** Aborts the request and everything underneath it; rejects with the signal's reason. */
  signal?: AbortSignal | null;
  /** Bound on this whole call (a `total` timeout), on top of any timeout layer. */
  timeoutMs?: number;
  /** Turn 4xx/5xx responses into `HttpError`. @default the client's setting */
  throwHttpErrors?: boolean;
  /** fetch's cache mode, read by the cache layer. @default 'default' */
  cache?: CacheMode;
  /** What the transport does with redirects. @default 'follow' */
  redirect?: RedirectMode;
  /** TLS settings for this request (a `tls()` layer sets them for every request). */
  tls?: TlsOptions;
  /** Follow a redirect from https to http. @default the client's setting (false) */
  allowInsecureRedirect?: boolean;
  /** Bound on the decoded response body, in bytes; past it the body errors with `ResponseTooLargeError`. @default the client's */
  maxResponseBytes?: number;
  /** Called as the request body is sent: `{ transferredBytes, totalBytes, percent }`. */
  onUploadProgress?: (progress: Progress) => void;
  /** Called as the response body is read: `{ transferredBytes, totalBytes, percent }`. */
  onDownloadProgress?: (progress: Progress) => void;
  // fetch's RequestInit members that mean nothing to a server-side client are accepted and ignored.
  credentials?: RequestInit['credentials'];
  integrity?: string;
  keepalive?: boolean;
  mode?: RequestInit['mode'];
  referrer?: string;
  referrerPolicy?: RequestInit['referrerPolicy'];
  priority?: 'high' | 'low' | 'auto';
  duplex?: 'half';
  window?: null;
}

/** What a progress callback receives. */
export interface Progress {
  /** Bytes sent (upload) or read (download) so far. */
  readonly transferredBytes: number;
  /** The whole size, when known (a Content-Length, a body of known length). */
  readonly totalBytes: number | undefined;
  /** 0 to 100; 100 once the transfer ended. 0 until the end when the total is unknown. */
  readonly percent: number;
}

/** Headers from any {@link HeadersInput}, as a fresh `Headers`. */
export function toHeaders(input: HeadersInput | undefined): Headers {
  if (input === undefined) return new Headers();
  if (input instanceof Headers) return new Headers(input);
  if (Symbol.iterator in input) return new Headers([...(input as Iterable<readonly [string, string]>)].map(([k, v]) => [k, v]));
  const headers = new Headers();
  const record = input as Record<string, string | readonly string[] | undefined>;
  for (const name in record) {
    const value = record[name];
    if (value === undefined) continue;
    if (typeof value === 'string') headers.set(name, value);
    else for (const item of value) headers.append(name, item);
  }
  return headers;
}

/** Sets query parameters on the URL's own query (replacing keys it already had). */
export function applySearchParams(url: URL, input: SearchParamsInput): void {
  if (typeof input === 'string' || input instanceof URLSearchParams || Array.isArray(input)) {
    const params = new URLSearchParams(input as string | URLSearchParams | [string, string][]);
    const names = new Set(params.keys());
    for (const name of names) url.searchParams.delete(name);
    params.forEach((value, name) => url.searchParams.append(name, value));
    return;
  }
  const record = input as Record<string, SearchParamValue>;
  for (const name in record) {
    const value = record[name];
    if (value === undefined || value === null) continue;
    url.searchParams.delete(name);
    if (Array.isArray(value)) for (const item of value) url.searchParams.append(name, String(item));
    else url.searchParams.append(name, String(value));
  }
}

/** The request URL: absolute, relative to `baseUrl`, or a bare path kept for a routing layer. */
export function resolveUrl(input: string | URL, base: URL | undefined): URL {
  if (input instanceof URL) return new URL(input.href);
  if (base === undefined) {
    // A bare path is kept for a layer that chooses the endpoint (a load balancer); the transport
    // refuses it if none did.
    if (input.startsWith('/') && !input.startsWith('//')) return new URL(input, pathOnlyBase);
    try {
      return new URL(input);
    } catch {
      throw new TypeError(`invalid URL ${JSON.stringify(input)}: give an absolute URL or a path, or set baseUrl`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(input)) return new URL(input);
  // A path is appended to the base's path, as ky's prefixUrl and axios's baseURL do.
  return new URL(input.replace(/^\/+/, ''), base);
}


const knownOptions = new Set([
  'method', 'headers', 'body', 'json', 'searchParams', 'signal', 'timeoutMs', 'throwHttpErrors', 'cache', 'redirect', 'tls',
  'allowInsecureRedirect', 'maxResponseBytes', 'onUploadProgress', 'onDownloadProgress',
  'credentials', 'integrity', 'keepalive', 'mode', 'referrer', 'referrerPolicy', 'priority', 'duplex', 'window',
]);

// What users of ky, got, axios and fetch reach for, and what shallot calls it.
const suggestions: Record<string, string> = {
  timeout: "'timeoutMs' (milliseconds), or a timeout() layer",
  params: "'searchParams'",
  query: "'searchParams'",
  qs: "'searchParams'",
  searchparams: "'searchParams'",
  data: "'json' (an object) or 'body'",
  form: "'body' with a URLSearchParams or FormData",
  prefixurl: "the build() option 'baseUrl'",
  baseurl: "the build() option 'baseUrl'",
  retry: 'a retry() layer',
  hooks: 'a hooks() layer',
  agent: "nodeFetchTransport({ agent })",
  dispatcher: 'the transport option of build()',
  responsetype: 'res.json(), res.text() or res.arrayBuffer()',
  validatestatus: "'throwHttpErrors'",
  httperrors: "'throwHttpErrors'",
  throwhttperror: "'throwHttpErrors'",
  maxcontentlength: "'maxResponseBytes'",
  timeoutms: "'timeoutMs'",
};

/**
 * Checks per-request options at run time, as `build()` options are, so a plain-JavaScript caller
 * hears of a misspelt option: an unknown key is an `InvalidOptionsError` that names it and what
 * to use instead (`timeout` → `timeoutMs`, `params` → `searchParams`).
 */
export function checkRequestOptions(init: RequestOptions): void {
  for (const key in init) {
    if (knownOptions.has(key)) continue;
    const hint = suggestions[key.toLowerCase()];
    throw new InvalidOptionsError(`request: unknown option '${key}'${hint === undefined ? '' : `; use ${hint}`}`);
  }
}

const tokenPattern = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The method as it goes on the wire, upper-cased; refused before anything is sent when it is
 * not an ASCII token (`'poſt'` would upper-case to `POST`) or is `CONNECT` (a tunnel: use the
 * transport's `proxy` option).
 */
export function checkMethod(method: string): string {
  if (typeof method !== 'string' || !tokenPattern.test(method)) {
    throw new InvalidOptionsError(`request.method: expected an HTTP method (an ASCII token), got ${formatValue(method)}`);
  }
  const upper = method.toUpperCase();
  if (upper === 'CONNECT') throw new InvalidOptionsError("request.method: CONNECT is not sent by shallot (tunnels go through the transport's proxy option)");
  return upper;
}

/** Refuses headers a caller may not set: `Transfer-Encoding` (the transport frames the body; two framings are how requests are smuggled). */
export function checkRequestHeaders(headers: Headers): void {
  if (headers.has('transfer-encoding')) {
    throw new InvalidOptionsError("request.headers: 'transfer-encoding' is set by the transport; a caller's Transfer-Encoding is refused");
  }
}
