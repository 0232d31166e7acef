import type CachePolicy from 'http-cache-semantics';
import type { HeaderRecord, PolicyClass, PolicyRequest, PolicyResponse } from './policy-class.js';

/** What a cache does with a request when it holds a matching entry. */
export type Decision =
  /** Serve it: fresh (`stale: false`), or stale with the client's or the mode's permission. */
  | {
      readonly kind: 'serve';
      readonly stale: boolean;
      /** The headers to serve it with, as the library's evaluation computed them. */
      readonly headers: CachePolicy.Headers | undefined;
    }
  /** Serve it stale now and revalidate in the background (stale-while-revalidate). */
  | { readonly kind: 'background' }
  /** Revalidate before using it. */
  | { readonly kind: 'validate' };

/** The headers to serve a stored response with (hop-by-hop headers removed, Age updated). */
export function servedHeaders(policy: CachePolicy, computed?: CachePolicy.Headers): Headers {
  return recordHeaders(computed ?? policy.responseHeaders());
}

// The policy made of a stored policy object rides on that object, under a symbol (never
// serialised, never seen by a store): a WeakMap would cost a hash table that keeps the size of
// its busiest moment, in the megabytes for a busy cache.
const madePolicy = Symbol('shallot.cache.policy');

type PolicyObject = CachePolicy.CachePolicyObject & { [madePolicy]?: CachePolicy };

function remember(object: PolicyObject, policy: CachePolicy): void {
  Object.defineProperty(object, madePolicy, { value: policy, configurable: true, writable: true, enumerable: false });
}

/** The policy of a stored entry, made once per entry object and policy class. */
export function storedPolicy(cls: PolicyClass, object: CachePolicy.CachePolicyObject): CachePolicy {
  const known = (object as PolicyObject)[madePolicy];
  if (known !== undefined && known instanceof cls) return known;
  const policy = cls.fromObject(object);
  if (Object.isExtensible(object)) remember(object, policy);
  return policy;
}

/** The serialisable form of a policy, remembered so that reading it back costs nothing. */
export function policyObject(policy: CachePolicy): CachePolicy.CachePolicyObject {
  const object = policy.toObject();
  remember(object, policy);
  return object;
}

/** A Headers object as a record (`set-cookie` kept as a list). */
export function headerRecord(headers: Headers): HeaderRecord {
  const record: HeaderRecord = {};
  headers.forEach((value, name) => {
    if (name !== 'set-cookie') record[name] = value;
  });
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) record['set-cookie'] = cookies;
  return record;
}

/** A record back to Headers. */
export function recordHeaders(record: CachePolicy.Headers): Headers {
  const headers = new Headers();
  for (const name in record) {
    const value = record[name];
    if (value === undefined) continue;
    if (typeof value === 'string') headers.append(name, value);
    else for (const item of value) headers.append(name, item);
  }
  return headers;
}

/** The URL a cache keys and matches on: the fragment is never part of it. */
export function cacheUrl(url: URL): string {
  return url.hash === '' ? url.href : url.href.slice(0, -url.hash.length);
}

/**
 * The request a policy is built from and stored with. When the response has a Vary header,
 * http-cache-semantics keeps the request headers for matching; only the ones it reads are kept
 * here (the varied ones, `host`, `cache-control`, and whether there was an `Authorization`), and
 * a credential header only as `present`, so no secret and no unrelated header reaches the store.
 */
export function storedRequest(request: PolicyRequest, vary: readonly string[], credentialNames: ReadonlySet<string>): PolicyRequest {
  const source = request.headers;
  const headers: HeaderRecord = {};
  for (const name of ['host', 'cache-control', 'authorization', ...vary]) {
    const value = source[name];
    if (value !== undefined) headers[name] = credentialNames.has(name) || name === 'authorization' ? 'present' : value;
  }
  return { url: request.url, method: request.method, headers };
}

/**
 * The request a stored entry is evaluated against. The entry was found by a key that already
 * matched the varied headers (normalised: see `vary.ts`), so the library is shown the stored
 * values of those headers, and the entry's method when a HEAD is answered from a GET entry.
 */
export function matchedRequest(asked: PolicyRequest, policy: CachePolicy, vary: readonly string[]): PolicyRequest {
  // A GET found by its key is a GET entry (only a HEAD may be answered by another method's).
  if (vary.length === 0 && asked.method === 'GET') return asked;
  const { reqh, m } = policy.toObject();
  if (vary.length === 0 && m === asked.method) return asked;
  const headers = { ...asked.headers };
  for (const name of vary) {
    const stored = reqh?.[name];
    if (stored === undefined) delete headers[name];
    else headers[name] = stored;
  }
  return { ...asked, method: m, headers };
}

/**
 * Builds the policy of a response (the class shows the library a corrected view of it: see
 * `policy-class.ts`).
 */
export function responsePolicy(cls: PolicyClass, request: PolicyRequest, response: PolicyResponse, shared: boolean): CachePolicy {
  return new cls(request, response, { shared });
}

// http-cache-semantics 4.3 answers "revalidate" for every entry with must-revalidate, fresh or
// not (kornelski/http-cache-semantics#54); RFC 9111 §5.2.2.2 only forbids serving it once stale.
// For a fresh must-revalidate entry, ask again of the same policy without the directive and take
// only a "serve" answer from it; stale ones keep the library's answer.
function evaluate(policy: CachePolicy, request: PolicyRequest): CachePolicy.EvaluateRequestResult {
  const result = policy.evaluateRequest(request);
  if (result.revalidation === undefined || policy.stale()) return result;
  const object = policy.toObject();
  if (!('must-revalidate' in object.rescc)) return result;
  const { 'must-revalidate': _, ...rescc } = object.rescc;
  const relaxed = (policy.constructor as PolicyClass).fromObject({ ...object, rescc });
  const second = relaxed.evaluateRequest(request);
  return second.revalidation === undefined ? second : result;
}

/**
 * What to do with a matching entry: all freshness arithmetic is http-cache-semantics'. `anyAge`
 * (the `force-cache` and `only-if-cached` modes) asks as a request with `max-stale` would.
 */
export function decide(policy: CachePolicy, request: PolicyRequest, anyAge: boolean, staleWhileRevalidate: boolean): Decision {
  const asked = anyAge ? { ...request, headers: { ...request.headers, 'cache-control': 'max-stale' } } : request;
  const result = evaluate(policy, asked);
  if (result.revalidation === undefined) return { kind: 'serve', stale: policy.stale(), headers: result.response?.headers };
  if (!result.revalidation.synchronous && result.response !== undefined && staleWhileRevalidate) return { kind: 'background' };
  return { kind: 'validate' };
}

/**
 * True for a fresh entry marked `immutable`: the `no-cache` mode (a browser's reload) need not
 * revalidate it (RFC 8246; cache-tests `cc-resp-immutable-fresh`).
 */
export function isFreshImmutable(policy: CachePolicy): boolean {
  return 'immutable' in policy.toObject().rescc && !policy.stale();
}

/** An entity-tag as sent: a bare `abc` is quoted (cache-tests `conditional-etag-*-unquoted`). */
export function quoteEtags(value: string): string {
  return value
    .split(',')
    .map((tag) => {
      const trimmed = tag.trim();
      return trimmed === '*' || trimmed.startsWith('"') || trimmed.startsWith('W/') || trimmed === '' ? trimmed : `"${trimmed}"`;
    })
    .join(', ');
}

/**
 * The headers of the conditional request that revalidates `policy` for `request`: the caller's
 * headers with the `If-None-Match` / `If-Modified-Since` http-cache-semantics computes (entity-tags
 * quoted: cache-tests `conditional-etag-strong-generate-unquoted`).
 */
export function revalidationHeaders(policy: CachePolicy, request: PolicyRequest, original: Headers): Headers {
  const computed = policy.revalidationHeaders(request);
  const headers = new Headers(original);
  for (const name of ['if-none-match', 'if-modified-since']) {
    const value = computed[name];
    if (typeof value !== 'string') headers.delete(name);
    else headers.set(name, name === 'if-none-match' ? quoteEtags(value) : value);
  }
  return headers;
}

/** Outcome of a 304 for a stored entry. */
export interface Revalidated {
  readonly policy: CachePolicy;
  /** False when the 304 is not about the stored response (another validator). */
  readonly matches: boolean;
}

/**
 * Applies a 304 to the stored policy (RFC 9111 §4.3.4). A 304 that carries no validator at all
 * answers the conditional request the cache made from this very entry's validators, so it is
 * taken as selecting that entry (§4.3.3); http-cache-semantics would refuse it whenever the entry
 * has an ETag (cache-tests `cc-resp-must-revalidate-stale`, `conditional-etag-strong-generate`).
 */
export function revalidate(policy: CachePolicy, request: PolicyRequest, response: PolicyResponse): Revalidated {
  const headers = response.headers;
  let seen = response;
  if (headers.etag === undefined && headers['last-modified'] === undefined) {
    const { resh } = policy.toObject();
    const validators: HeaderRecord = {};
    if (resh.etag !== undefined) validators.etag = resh.etag;
    if (resh['last-modified'] !== undefined) validators['last-modified'] = resh['last-modified'];
    seen = { ...response, headers: { ...headers, ...validators } };
  }
  const result = policy.revalidatedPolicy(request, seen);
  return { policy: result.policy, matches: result.matches };
}

/**
 * True when the stale entry may stand in for an upstream failure: within its `stale-if-error`
 * window (RFC 5861; http-cache-semantics' `revalidatedPolicy()` given an error keeps the old
 * policy exactly then), or within `staleOnErrorMs` past its freshness (RFC 9111 §4.2.4 lets a
 * cache that cannot reach the origin serve stale). Never past the directives that forbid serving
 * stale at all, which the library does not check.
 */
export function staleIfErrorCovers(policy: CachePolicy, request: PolicyRequest, staleOnErrorMs: number): boolean {
  const { rescc, sh } = policy.toObject();
  if ('must-revalidate' in rescc || 'no-cache' in rescc) return false;
  if (sh && ('proxy-revalidate' in rescc || 's-maxage' in rescc)) return false;
  if (staleOnErrorMs > 0 && (policy.age() - policy.maxAge()) * 1000 <= staleOnErrorMs) return true;
  return !policy.revalidatedPolicy(request, { status: 504, headers: {} }).modified;
}

/** True when the entry can be revalidated: it has an `ETag` or a `Last-Modified`. */
export function hasValidators(policy: CachePolicy): boolean {
  const { resh } = policy.toObject();
  return resh.etag !== undefined || resh['last-modified'] !== undefined;
}
