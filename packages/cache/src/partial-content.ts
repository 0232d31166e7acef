import type CachePolicy from 'http-cache-semantics';
import type { CacheEntry } from './store.js';

/** One byte range a request asks for (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-` or `bytes=-n`. */
export type RangeSpec = { readonly start: number; readonly end: number | undefined } | { readonly suffix: number };

/** A stored part: bytes `start`..`end` (inclusive) of a representation of `total` bytes. */
export interface ContentRange {
  readonly start: number;
  readonly end: number;
  readonly total: number;
}

const rangeHeader = /^bytes=(\d*)-(\d*)$/i;
const contentRangeHeader = /^bytes (\d+)-(\d+)\/(\d+)$/i;

/** The single byte range of a `Range` header; `undefined` for anything else (several ranges, another unit). */
export function parseRange(value: string): RangeSpec | undefined {
  const m = rangeHeader.exec(value.replace(/\s+/g, ''));
  if (m === null) return undefined;
  const [, first = '', last = ''] = m;
  if (first === '') return last === '' ? undefined : { suffix: Number(last) };
  const start = Number(first);
  const end = last === '' ? undefined : Number(last);
  if (end !== undefined && end < start) return undefined;
  return { start, end };
}

/** A `Content-Range` of one satisfied range with a known length; `undefined` otherwise. */
export function parseContentRange(value: string | string[] | undefined): ContentRange | undefined {
  if (typeof value !== 'string') return undefined;
  const m = contentRangeHeader.exec(value.trim());
  if (m === null) return undefined;
  const [start, end, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (end < start || end >= total) return undefined;
  return { start, end, total };
}

/** The bytes `spec` selects of a representation of `total` bytes; `undefined` when unsatisfiable. */
function resolve(spec: RangeSpec, total: number): { start: number; end: number } | undefined {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || total === 0) return undefined;
    return { start: Math.max(0, total - spec.suffix), end: total - 1 };
  }
  if (spec.start >= total) return undefined;
  return { start: spec.start, end: Math.min(spec.end ?? total - 1, total - 1) };
}

/** What a stored entry holds of its representation: all of it (200) or one part (206). */
export function storedRange(entry: CacheEntry): ContentRange | undefined {
  if (entry.status === 206) return parseContentRange(entry.policy.resh['content-range']);
  if (entry.status !== 200) return undefined;
  const total = entry.body.byteLength;
  return total === 0 ? undefined : { start: 0, end: total - 1, total };
}

/** A 206 served from stored bytes: its body and the headers that describe it. */
export interface Part {
  readonly body: Uint8Array;
  readonly contentRange: string;
}

/**
 * The part of a stored entry that answers `spec` (RFC 9111 §3.4: a cache may serve a range from a
 * complete response or from a stored part that covers it); `undefined` when it holds too little.
 */
export function partOf(entry: CacheEntry, spec: RangeSpec): Part | undefined {
  const held = storedRange(entry);
  if (held === undefined) return undefined;
  const wanted = resolve(spec, held.total);
  if (wanted === undefined || wanted.start < held.start || wanted.end > held.end) return undefined;
  const body = entry.body.subarray(wanted.start - held.start, wanted.end - held.start + 1);
  return { body, contentRange: `bytes ${wanted.start}-${wanted.end}/${held.total}` };
}

/** Sets the headers of a served part on the headers of its entry. */
export function partHeaders(headers: Headers, part: Part): Headers {
  headers.set('content-range', part.contentRange);
  headers.set('content-length', `${part.body.byteLength}`);
  return headers;
}

/** A strong entity-tag of a policy's response, if it has one. */
export function strongEtag(policy: CachePolicy): string | undefined {
  const etag = policy.toObject().resh.etag;
  return typeof etag === 'string' && !etag.trim().startsWith('W/') ? etag.trim() : undefined;
}

/**
 * The request for the rest of a stored first part (`bytes=N-`), with `If-Range` naming its
 * strong validator so that a changed representation comes back whole; `undefined` when the entry
 * is no first part of a known length.
 */
export function continuation(entry: CacheEntry, policy: CachePolicy, headers: Headers): Headers | undefined {
  const held = storedRange(entry);
  if (entry.status !== 206 || held === undefined || held.start !== 0) return undefined;
  const wire = new Headers(headers);
  wire.set('range', `bytes=${held.end + 1}-`);
  const etag = strongEtag(policy);
  if (etag !== undefined) wire.set('if-range', etag);
  return wire;
}

/**
 * True when a 206 answering {@link continuation} completes the stored first part: it starts where
 * the part ends, for the same length, and both carry the same strong validator (RFC 9110
 * §15.3.7.3: parts are combined only then).
 */
export function completes(entry: CacheEntry, policy: CachePolicy, response: Response): boolean {
  const held = storedRange(entry);
  const next = parseContentRange(response.headers.get('content-range') ?? undefined);
  if (held === undefined || next === undefined) return false;
  if (next.start !== held.end + 1 || next.end !== next.total - 1 || next.total !== held.total) return false;
  const etag = strongEtag(policy);
  return etag !== undefined && response.headers.get('etag')?.trim() === etag;
}
