import type { Clock, ShallotRequest } from '@shallot/core';
import CachePolicy from 'http-cache-semantics';

/** Headers in the form http-cache-semantics reads: lower-case names, `set-cookie` as a list. */
export type HeaderRecord = Record<string, string | string[]>;

/** A request as http-cache-semantics sees it. */
export interface PolicyRequest {
  url: string;
  method: string;
  headers: HeaderRecord;
}

/** A response as http-cache-semantics sees it. */
export interface PolicyResponse {
  status: number;
  headers: HeaderRecord;
}

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

type PolicyClass = typeof CachePolicy;

const classes = new WeakMap<Clock, PolicyClass>();

// `defaultTtlMs` is recorded in the policy's view of the response as a `max-age` (whole seconds,
// so that http-cache-semantics treats the response as explicitly fresh, with all its rules) plus
// this extension directive with the milliseconds, which `maxAge()` narrows the seconds to. Both
// live in one Cache-Control value: a 304 that brings its own Cache-Control replaces them together.
// Neither is shown to callers.
const ttlDirective = 'shallot-default-ttl-ms';
const injected = new RegExp(`(?:^|,\\s*)max-age=\\d+,\\s*${ttlDirective}=\\d+$`);
const defaultTtls = new WeakMap<CachePolicy, number | null>();

function defaultTtlOf(policy: CachePolicy): number | null {
  let ttl = defaultTtls.get(policy);
  if (ttl === undefined) {
    const value = policy.toObject().rescc[ttlDirective];
    ttl = value === undefined ? null : Number(value);
    defaultTtls.set(policy, ttl);
  }
  return ttl;
}

/**
 * The CachePolicy class that reads time from `clock`: http-cache-semantics takes the time from
 * its `now()` method (documented as the one to override), so a virtual clock drives freshness.
 * Its `fromObject()` and `revalidatedPolicy()` construct through `this`, so they keep the clock.
 * `maxAge()` gives a `defaultTtlMs` its millisecond precision (see `responsePolicy`).
 */
export function policyClass(clock: Clock): PolicyClass {
  let cls = classes.get(clock);
  if (cls === undefined) {
    cls = class ClockedCachePolicy extends CachePolicy {
      now(): number {
        return clock.now();
      }

      override maxAge(): number {
        const seconds = super.maxAge();
        if (seconds <= 0) return seconds;
        const ttl = defaultTtlOf(this);
        return ttl === null ? seconds : Math.min(seconds, ttl / 1000);
      }

      // The library's answer (hop-by-hop headers removed, Age and Date updated, the directive
      // defaultTtlMs added taken out again), with the part that does not change with time
      // computed once per policy: evaluateRequest() calls this on every hit.
      #base: CachePolicy.Headers | undefined;

      override responseHeaders(): CachePolicy.Headers {
        const age = this.age();
        // Past a day the library may add a heuristic-freshness Warning: take its full answer then.
        if (age > 86_400) return withoutDefaultTtl(super.responseHeaders());
        if (this.#base === undefined) {
          const base = withoutDefaultTtl(super.responseHeaders());
          delete base.age;
          delete base.date;
          this.#base = base;
        }
        return { ...this.#base, age: `${Math.round(age)}`, date: httpDate(this.now()) };
      }
    };
    classes.set(clock, cls);
  }
  return cls;
}

function withoutDefaultTtl(record: CachePolicy.Headers): CachePolicy.Headers {
  const cacheControl = record['cache-control'];
  if (typeof cacheControl === 'string' && cacheControl.includes(ttlDirective)) {
    const original = cacheControl.replace(injected, '');
    if (original === '') delete record['cache-control'];
    else record['cache-control'] = original;
  }
  return record;
}

let dateSecond = Number.NaN;
let dateText = '';

/** An HTTP date for `ms`, formatted once per second. */
function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/**
 * The headers to serve a stored response with: http-cache-semantics' (hop-by-hop headers
 * removed, Age and Date updated), without what `defaultTtlMs` added.
 */
export function servedHeaders(policy: CachePolicy, computed?: CachePolicy.Headers): Headers {
  return recordHeaders(computed ?? policy.responseHeaders());
}

const memo = new WeakMap<object, CachePolicy>();

/** The policy of a stored entry, made once per entry object and clock. */
export function storedPolicy(cls: PolicyClass, object: CachePolicy.CachePolicyObject): CachePolicy {
  const known = memo.get(object);
  if (known !== undefined && known instanceof cls) return known;
  const policy = cls.fromObject(object);
  memo.set(object, policy);
  return policy;
}

/** The serialisable form of a policy, remembered so that reading it back costs nothing. */
export function policyObject(policy: CachePolicy): CachePolicy.CachePolicyObject {
  const object = policy.toObject();
  memo.set(object, policy);
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

/** The request as http-cache-semantics sees it, `host` included (it matches on it). */
export function policyRequest(request: ShallotRequest): PolicyRequest {
  const headers = headerRecord(request.headers);
  headers.host ??= request.url.host;
  return { url: cacheUrl(request.url), method: request.method, headers };
}

/**
 * The request a policy is built from and stored with. When the response has a Vary header,
 * http-cache-semantics keeps the request headers for matching; only the ones it reads are kept
 * here (the varied ones, `host`, `cache-control`, and whether there was an `Authorization`), so
 * credentials and unrelated headers never reach the store.
 */
export function storedRequest(request: PolicyRequest, vary: readonly string[]): PolicyRequest {
  const source = request.headers;
  const headers: HeaderRecord = {};
  for (const name of ['host', 'cache-control', ...vary]) {
    const value = source[name];
    if (value !== undefined) headers[name] = value;
  }
  if (source.authorization !== undefined && headers.authorization === undefined) headers.authorization = 'present';
  return { url: request.url, method: request.method, headers };
}

/** The lower-case request header names a response varies on (`*` included when present). */
export function varyNames(headers: Headers): string[] {
  const vary = headers.get('vary');
  if (vary === null) return [];
  const names = vary
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return [...new Set(names)].sort();
}

/**
 * Builds the policy of a response. With `defaultTtlMs`, a storable response that says nothing
 * about its expiry (no `max-age`, applicable `s-maxage`, `Expires` or `no-cache`) is made
 * explicitly fresh for that long in the headers the policy decides with, so every other rule of
 * http-cache-semantics still applies to it; callers see the headers the server sent.
 */
export function responsePolicy(
  cls: PolicyClass,
  request: PolicyRequest,
  response: PolicyResponse,
  shared: boolean,
  defaultTtlMs: number | undefined,
): CachePolicy {
  const policy = new cls(request, response, { shared });
  if (defaultTtlMs === undefined || !policy.storable()) return policy;
  const { rescc, resh } = policy.toObject();
  if ('max-age' in rescc || (shared && 's-maxage' in rescc) || 'no-cache' in rescc || resh.expires !== undefined) return policy;
  const freshness = `max-age=${Math.ceil(defaultTtlMs / 1000)}, ${ttlDirective}=${defaultTtlMs}`;
  const cacheControl = response.headers['cache-control'];
  const headers = { ...response.headers, 'cache-control': typeof cacheControl === 'string' ? `${cacheControl}, ${freshness}` : freshness };
  return new cls(request, { ...response, headers }, { shared });
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
 * The headers of the conditional request that revalidates `policy` for `request`
 * (`If-None-Match`, `If-Modified-Since`), from http-cache-semantics. `host` is dropped unless the
 * caller set it: it is only there for matching.
 */
export function revalidationHeaders(policy: CachePolicy, request: PolicyRequest, original: Headers): Headers {
  const headers = recordHeaders(policy.revalidationHeaders(request));
  if (!original.has('host')) headers.delete('host');
  return headers;
}

/**
 * True when the stale entry may stand in for an error (RFC 5861 `stale-if-error`). The window is
 * http-cache-semantics': `revalidatedPolicy()` given an error response keeps the old policy
 * (`modified: false`) exactly when stale-if-error covers it. The library does not check the
 * directives that forbid serving stale at all (RFC 9111 §4.2.4), so they are checked here.
 */
export function staleIfErrorCovers(policy: CachePolicy, request: PolicyRequest): boolean {
  const { rescc, sh } = policy.toObject();
  if ('must-revalidate' in rescc || 'no-cache' in rescc) return false;
  if (sh && ('proxy-revalidate' in rescc || 's-maxage' in rescc)) return false;
  return !policy.revalidatedPolicy(request, { status: 504, headers: {} }).modified;
}

/** True when the entry can be revalidated: it has an `ETag` or a `Last-Modified`. */
export function hasValidators(policy: CachePolicy): boolean {
  const { resh } = policy.toObject();
  return resh.etag !== undefined || resh['last-modified'] !== undefined;
}
