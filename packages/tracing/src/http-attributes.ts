import type { Attributes } from '@opentelemetry/api';
import { type RedactionOptions, redactHeaders } from '@shallot/core';

/**
 * Attribute names of the stable OpenTelemetry HTTP client conventions, spelled out here so the
 * package needs only `@opentelemetry/api` at run time.
 */
export const attr = {
  method: 'http.request.method',
  methodOriginal: 'http.request.method_original',
  resendCount: 'http.request.resend_count',
  statusCode: 'http.response.status_code',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  urlFull: 'url.full',
  urlScheme: 'url.scheme',
  errorType: 'error.type',
  protocolVersion: 'network.protocol.version',
} as const;

/** The request duration histogram's bucket boundaries (seconds) that the conventions advise. */
export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const knownMethods = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

/** The span name: the method, or `HTTP` for a method the conventions do not know. */
export function spanName(method: string): string {
  return knownMethods.has(method) ? method : 'HTTP';
}

function defaultPort(protocol: string): number | undefined {
  if (protocol === 'https:' || protocol === 'wss:') return 443;
  if (protocol === 'http:' || protocol === 'ws:') return 80;
  return undefined;
}

/** `server.address` and `server.port` of a URL (IPv6 without its brackets). */
export function serverOf(url: URL): { address: string; port: number | undefined } {
  const host = url.hostname;
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
  return { address, port };
}

/** The attributes known before the request is sent; `fullUrl` is the redacted `url.full`. */
export function requestAttributes(method: string, url: URL, fullUrl: string): Attributes {
  const { address, port } = serverOf(url);
  const attributes: Attributes = {
    [attr.method]: knownMethods.has(method) ? method : '_OTHER',
    [attr.serverAddress]: address,
    [attr.urlFull]: fullUrl,
    [attr.urlScheme]: url.protocol.slice(0, -1),
  };
  if (port !== undefined) attributes[attr.serverPort] = port;
  if (!knownMethods.has(method)) attributes[attr.methodOriginal] = method;
  return attributes;
}

/** The low-cardinality attributes the duration histogram and the counters carry. */
export function metricAttributes(method: string, url: URL): Attributes {
  const { address, port } = serverOf(url);
  const attributes: Attributes = {
    [attr.method]: knownMethods.has(method) ? method : '_OTHER',
    [attr.serverAddress]: address,
    [attr.urlScheme]: url.protocol.slice(0, -1),
  };
  if (port !== undefined) attributes[attr.serverPort] = port;
  return attributes;
}

/**
 * `error.type` of a thrown error: its class name (`TimeoutError`, `NetworkError`, `AbortError`),
 * else its string `code`, else `_OTHER`, as the conventions ask for a low-cardinality value.
 */
export function errorType(error: unknown): string {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'name' in error)) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  }
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return '_OTHER';
}

/** `http.request.header.<name>` / `http.response.header.<name>` attributes, values redacted. */
export function headerAttributes(prefix: 'http.request.header' | 'http.response.header', names: readonly string[], headers: Headers, redaction: RedactionOptions): Attributes {
  const attributes: Attributes = {};
  if (names.length === 0) return attributes;
  const picked = new Headers();
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) picked.set(name, value);
  }
  for (const [name, value] of Object.entries(redactHeaders(picked, redaction))) {
    attributes[`${prefix}.${name}`] = Array.isArray(value) ? value : [value];
  }
  return attributes;
}
