import type { Clock } from '@shallot/core';
import CachePolicy from 'http-cache-semantics';
import { type Directives, formatCacheControl, parseCacheControl, qualifiedFields } from './cache-control.js';
import { parseHttpDate } from './http-date.js';

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

/** The http-cache-semantics class the cache works with (see {@link policyClass}). */
export type PolicyClass = typeof CachePolicy;

// Statuses http-cache-semantics 4.3 stores at all; any other is "not understood" and never stored.
const libraryUnderstood: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 501]);
// What the cache understands (RFC 9111 §3 "must-understand"): those, and partial content.
const understood: ReadonlySet<number> = new Set([...libraryUnderstood, 206]);

// `defaultTtlMs` enters the policy's directives as a `max-age` (whole seconds, so that every other
// rule of the library applies to it) plus this directive with the milliseconds, which `maxAge()`
// narrows the seconds to. Callers never see either: the headers served are the server's.
const ttlDirective = 'shallot-default-ttl-ms';

// An invalid Expires means "already expired" (RFC 9111 §5.3); this is what the library is shown.
const expired = 'Thu, 01 Jan 1970 00:00:00 GMT';

function text(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function hasExplicitExpiry(directives: Directives, headers: HeaderRecord, shared: boolean): boolean {
  return 'max-age' in directives || (shared && 's-maxage' in directives) || 'no-cache' in directives || headers.expires !== undefined;
}

/** What the library is shown of a response, and what the stored headers get back afterwards. */
interface ResponseView {
  readonly response: PolicyResponse;
  /** Header values restored into the stored headers once the library has read them. */
  readonly restore: Record<string, string | undefined>;
}

/**
 * The response as http-cache-semantics is shown it, where the library decides wrongly
 * (each correction has a regression test named for the cache-tests id it fixes):
 * - Cache-Control parsed by RFC 9111's grammar (case-insensitive names, first occurrence wins,
 *   malformed elements ignored): `cc-resp-no-cache-case-insensitive`, `freshness-max-age-case-insenstive`.
 * - qualified `no-cache="a"` (and, shared, `private="a"`) drop the fields they name from what is
 *   stored, instead of making the whole response `no-cache`.
 * - `must-understand`: `no-store` is ignored for a status the cache understands, and a status it
 *   does not understand is not stored (`status-200-must-understand`, `status-599-must-understand`).
 * - statuses the library does not know (206, 299, 4xx, 5xx, 599) are shown as one it stores only
 *   with explicit freshness or `public` (RFC 9111 §3; `status-*-fresh`, `heuristic-599-cached`);
 *   206 as a 200, since the cache understands partial content.
 * - `Expires` parsed strictly (`freshness-expires-invalid-*`, `freshness-expires-rfc850`); of
 *   `Age`, the first value (`age-parse-suffix`), and none if it is not delta-seconds
 *   (`age-parse-float`); a response `Pragma` ignored (RFC 9111 §5.4).
 * - `defaultTtlMs` for responses that say nothing of their expiry.
 */
function responseView(base: PolicyClass, request: PolicyRequest, response: PolicyResponse, shared: boolean, defaultTtlMs: number | undefined, nowMs: number): ResponseView {
  const headers: HeaderRecord = { ...response.headers };
  const originalCacheControl = text(headers['cache-control']);
  const directives = parseCacheControl(originalCacheControl);
  for (const name of ['no-cache', ...(shared ? ['private'] : [])]) {
    const fields = qualifiedFields(directives[name]);
    if (fields.length === 0) continue;
    for (const field of fields) delete headers[field];
    delete directives[name];
  }
  if ('must-understand' in directives) {
    if (understood.has(response.status)) delete directives['no-store'];
    else directives['no-store'] = true;
  }
  let status = response.status;
  if (status === 206) status = 200;
  else if (!libraryUnderstood.has(status) && status >= 200 && status <= 599 && status !== 304) status = 302;

  const expires = text(headers.expires);
  if (expires !== undefined) {
    const ms = parseHttpDate(expires, nowMs);
    headers.expires = Number.isNaN(ms) ? expired : Date.parse(expires) === ms ? expires : new Date(ms).toUTCString();
  }
  const age = text(headers.age);
  if (age !== undefined) {
    // The first value counts (a list or repeated lines), parameters aside; anything but
    // delta-seconds (`7200.0`, `-1`) is ignored.
    const first = (age.split(',')[0] ?? '').split(';')[0]?.trim() ?? '';
    if (/^\d+$/.test(first)) headers.age = first;
    else delete headers.age;
  }
  const pragma = text(headers.pragma);
  delete headers.pragma;

  const restore: Record<string, string | undefined> = { 'cache-control': originalCacheControl, pragma };
  const view = (): PolicyResponse => {
    const cacheControl = formatCacheControl(directives);
    if (cacheControl === '') delete headers['cache-control'];
    else headers['cache-control'] = cacheControl;
    return { status, headers };
  };
  if (defaultTtlMs === undefined || hasExplicitExpiry(directives, headers, shared)) return { response: view(), restore };
  // Only a response storable without it gets the default freshness.
  if (!new base(request, view(), { shared }).storable()) return { response: view(), restore };
  directives['max-age'] = `${Math.ceil(defaultTtlMs / 1000)}`;
  directives[ttlDirective] = `${defaultTtlMs}`;
  return { response: view(), restore };
}

let dateSecond = Number.NaN;
let dateText = '';

/** An HTTP date for `ms`, formatted once per second. */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

const classes = new WeakMap<Clock, Map<number | undefined, PolicyClass>>();

/**
 * The CachePolicy class of a cache layer: it reads time from `clock` (http-cache-semantics takes
 * the time from its `now()` method, documented as the one to override, so a virtual clock drives
 * freshness), shows the library each response through {@link responseView}, and serves the
 * stored `Date` rather than the time of serving (RFC 9110 §6.6.1; cache-tests
 * `other-date-update`). `fromObject()` and `revalidatedPolicy()` construct through `this`, so
 * every policy of the layer, stored or refreshed by a 304, gets the same treatment.
 */
export function policyClass(clock: Clock, defaultTtlMs: number | undefined): PolicyClass {
  let byTtl = classes.get(clock);
  if (byTtl === undefined) {
    byTtl = new Map();
    classes.set(clock, byTtl);
  }
  let cls = byTtl.get(defaultTtlMs);
  if (cls !== undefined) return cls;
  cls = class ShallotCachePolicy extends CachePolicy {
    constructor(request: PolicyRequest | undefined, response: PolicyResponse | undefined, options?: CachePolicy.Options & { _fromObject?: unknown }) {
      // fromObject() passes neither request nor response: the stored form is already a view.
      const view = response === undefined || request === undefined ? undefined : responseView(CachePolicy, request, response, options?.shared !== false, defaultTtlMs, clock.now());
      super(request as PolicyRequest, (view?.response ?? response) as PolicyResponse, options);
      if (view === undefined) return;
      // The library keeps the headers object it was given; what it has parsed stays parsed.
      const stored = view.response.headers;
      for (const name in view.restore) {
        const value = view.restore[name];
        if (value === undefined) delete stored[name];
        else stored[name] = value;
      }
    }

    now(): number {
      return clock.now();
    }

    #ttl: number | null | undefined;

    override maxAge(): number {
      const seconds = super.maxAge();
      if (seconds <= 0) return seconds;
      if (this.#ttl === undefined) {
        const value = this.toObject().rescc[ttlDirective];
        this.#ttl = value === undefined ? null : Number(value);
      }
      return this.#ttl === null ? seconds : Math.min(seconds, this.#ttl / 1000);
    }

    // The library's answer (hop-by-hop headers removed, Age updated) with the stored Date, and
    // the part that does not change with time computed once per policy: every hit calls this.
    #base: CachePolicy.Headers | undefined;

    override responseHeaders(): CachePolicy.Headers {
      const age = this.age();
      if (this.#base === undefined || age > 86_400) {
        const base = super.responseHeaders();
        const { resh, t } = this.toObject();
        const date = text(resh.date);
        base.date = date !== undefined && Number.isFinite(Date.parse(date)) ? date : httpDate(t);
        // Past a day the library may add a heuristic-freshness Warning: take its full answer then.
        if (age > 86_400) return base;
        delete base.age;
        this.#base = base;
      }
      return { ...this.#base, age: `${Math.round(age)}` };
    }
  } as unknown as PolicyClass;
  byTtl.set(defaultTtlMs, cls);
  return cls;
}
