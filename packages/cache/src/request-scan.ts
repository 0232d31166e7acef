import { createHash, type Hash } from 'node:crypto';
import type { BaseContext } from '@shallot/core';
import { parseCacheControl } from './cache-control.js';
import type { HeaderRecord, PolicyRequest } from './policy-class.js';
import { cacheUrl } from './policy.js';

// Headers a caller sends to make its own conditional request: such a request is the caller's
// business, and passes through.
const callerConditionals: ReadonlySet<string> = new Set(['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range']);

/** What the cache needs to know of a request's headers, read in one pass over them. */
export interface RequestScan {
  /** The request as http-cache-semantics sees it (see {@link scanRequest}). */
  readonly asked: PolicyRequest;
  /**
   * A SHA-256 digest of every credential header the request carries (`ctx.credentialHeaders`,
   * core's `requestCredentials()`), or `''` for none.
   */
  readonly credentials: string;
  /** The caller made its own conditional request. */
  readonly conditional: boolean;
  /** The `Range` header, if any. */
  readonly range: string | undefined;
  /** The request's `Cache-Control: no-store`. */
  readonly noStore: boolean;
  /** The request's `Cache-Control: only-if-cached`. */
  readonly onlyIfCached: boolean;
}

/**
 * Reads the request's headers once, for everything the cache decides with. The policy request
 * has them all (`host` added: the library matches on it) but `Pragma`: RFC 9111 §5.4 deprecates
 * it, and a request's `Cache-Control` says what the caller wants (cache-tests
 * `pragma-request-no-cache`). One pass, rather than a lookup per header of interest, keeps a hit
 * cheap: a `Headers` lookup costs about as much as walking a request's few headers.
 */
export function scanRequest(ctx: BaseContext): RequestScan {
  const request = ctx.request;
  const names = ctx.credentialHeaders;
  const headers: HeaderRecord = {};
  let hash: Hash | undefined;
  let conditional = false;
  let range: string | undefined;
  let cacheControl: string | undefined;
  // Headers iterate sorted by name, as requestCredentials() sorts: the digest is the same.
  for (const [name, value] of request.headers) {
    if (name === 'pragma') continue;
    if (name === 'set-cookie') {
      const cookies = headers[name];
      headers[name] = Array.isArray(cookies) ? [...cookies, value] : [value];
      continue;
    }
    headers[name] = value;
    if (names.has(name)) (hash ??= createHash('sha256')).update(`${name}\n${value}\n`);
    else if (callerConditionals.has(name)) conditional = true;
    else if (name === 'range') range = value;
    else if (name === 'cache-control') cacheControl = value;
  }
  headers.host ??= request.url.host;
  const directives = cacheControl === undefined ? undefined : parseCacheControl(cacheControl);
  return {
    asked: { url: cacheUrl(request.url), method: request.method, headers },
    credentials: hash === undefined ? '' : hash.digest('base64url').slice(0, 22),
    conditional,
    range,
    noStore: directives !== undefined && 'no-store' in directives,
    onlyIfCached: directives !== undefined && 'only-if-cached' in directives,
  };
}
