import type { BaseContext, Next, ShallotRequest } from '@shallot/core';
import type CachePolicy from 'http-cache-semantics';
import type { CacheContext, CacheStats, CacheStatus, StaleReason } from './cache-context.js';
import type { RequestKeys } from './cache-keys.js';
import { markResponse, servedResponse } from './cached-response.js';
import type { Entries, Found } from './entries.js';
import { cacheUrl, servedHeaders, staleIfErrorCovers } from './policy.js';
import type { PolicyClass, PolicyRequest } from './policy-class.js';
import type { FlightOutcome } from './single-flight.js';
import type { CacheEntry } from './store.js';

/** The counters of `stats()` (the rest of it is the store's). */
export type Counts = Omit<CacheStats, 'bytes' | 'entries'>;

/** What every request of one cache layer shares: its settings, its records, its counters. */
export interface Layer {
  readonly shared: boolean;
  readonly staleWhileRevalidate: boolean;
  readonly staleIfError: boolean;
  readonly staleOnErrorMs: number;
  readonly maxEntryBytes: number;
  readonly entries: Entries;
  readonly counts: Counts;
  /** Background revalidations running, by entry key. */
  readonly background: Map<string, Promise<void>>;
  /** Aborted by `close()`. */
  readonly closing: AbortSignal;
}

/** One request as the cache works on it. */
export interface Job {
  readonly ctx: BaseContext;
  readonly next: Next;
  /** The request as the caller made it (the context's may be swapped while a call is out). */
  readonly request: ShallotRequest;
  readonly keys: RequestKeys;
  readonly asked: PolicyRequest;
  readonly cls: PolicyClass;
  readonly state: CacheContext;
  /** False for background revalidations: they are not requests of a caller. */
  readonly counted: boolean;
}

/** Tells the requests that joined a flight how it ended; a no-op outside a flight. */
export type Settle = (outcome: FlightOutcome) => void;

/** For requests that lead no flight. */
export const alone: Settle = () => {};

/** Records what the cache did with the request, and says it on the response (`x-cache`). */
export function finish(layer: Layer, job: Pick<Job, 'state' | 'counted'>, response: Response, status: CacheStatus, staleReason?: StaleReason): Response {
  job.state.status = status;
  job.state.staleReason = staleReason;
  if (job.counted) {
    const counts = layer.counts;
    if (status === 'HIT') counts.hits++;
    else if (status === 'MISS') counts.misses++;
    else if (status === 'STALE') counts.stale++;
    else if (status === 'REVALIDATED') counts.revalidated++;
    else counts.bypassed++;
    if (job.state.coalesced) counts.coalesced++;
  }
  return markResponse(response, status);
}

/** Answers the request with a stored entry. */
export function serve(layer: Layer, job: Job, entry: CacheEntry, policy: CachePolicy, status: CacheStatus, staleReason?: StaleReason, computed?: CachePolicy.Headers): Response {
  const headers = servedHeaders(policy, computed);
  const init = { status: entry.status, statusText: entry.statusText, url: cacheUrl(job.request.url), method: job.request.method };
  return finish(layer, job, servedResponse(entry.body, headers, init), status, staleReason);
}

/** True when the stored entry may answer for an upstream that failed. */
export function mayServeStale(layer: Layer, job: Job, found: Found | undefined): found is Found {
  return layer.staleIfError && found !== undefined && staleIfErrorCovers(found.policy, job.asked, layer.staleOnErrorMs);
}

/** Answers with the stored entry because upstream failed. */
export function serveStale(layer: Layer, job: Job, found: Found): Response {
  return serve(layer, job, found.entry, found.policy, 'STALE', 'stale-if-error');
}
