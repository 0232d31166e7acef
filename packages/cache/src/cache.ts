import { type BaseContext, ClientClosedError, defineMiddleware, type Middleware, type Next, parseOptions, type ShallotRequest } from '@shallot/core';
import { parseCacheControl } from './cache-control.js';
import type { CacheContext, CacheStats } from './cache-context.js';
import { primaryKey, requestKeys, variantOf } from './cache-keys.js';
import { Entries, type Found } from './entries.js';
import { invalidatedUrls, isUnsafeMethod } from './invalidation.js';
import { alone, type Counts, finish, type Job, type Layer, mayServeStale, serve, serveStale } from './layer.js';
import { memoryCacheStore } from './memory-store.js';
import { type CacheOptions, cacheOptionsSchema, defaultMaxEntryBytes } from './options.js';
import { parseRange } from './partial-content.js';
import { cacheUrl, decide, isFreshImmutable, matchedRequest } from './policy.js';
import { type RequestScan, scanRequest } from './request-scan.js';
import { policyClass } from './policy-class.js';
import { completePart, rangeRequest } from './range-requests.js';
import { callerGaveUp, fetchUpstream, isUpstreamFailure, revalidateInBackground, send, unlessAborted, wireHeaders } from './revalidation.js';
import { type FlightOutcome, Flights } from './single-flight.js';
import { storeResponse } from './store-response.js';

/** What the cache layer has besides being a middleware. */
export interface CacheControls {
  /** Counters since the layer was made, and what the store holds. */
  stats(): CacheStats;
  /** Forgets every stored response. */
  clear(): Promise<void>;
}

/** The cache layer: a middleware that provides `ctx.cache`, with its counters and a way to empty it. */
export type CacheMiddleware = Middleware<{}, { cache: CacheContext }> & CacheControls;

// A joiner whose request turned out not to match the flight's variant looks again; bounded.
const maxRounds = 3;

/** True for a request the cache leaves alone: no-store, a body, URL credentials, the caller's own conditional. */
function bypasses(request: ShallotRequest, scan: RequestScan): boolean {
  if (request.cache === 'no-store' || scan.noStore || scan.conditional || request.body !== null) return true;
  return request.url.username !== '' || request.url.password !== '';
}

/** A POST response RFC 9110 §9.3.3 lets a cache reuse for GETs: explicitly fresh, and at its own URL. */
function reusablePost(request: ShallotRequest, response: Response, shared: boolean): boolean {
  const location = response.headers.get('content-location');
  if (location === null || !URL.canParse(location, request.url.href) || cacheUrl(new URL(location, request.url)) !== cacheUrl(request.url)) return false;
  const directives = parseCacheControl(response.headers.get('cache-control') ?? undefined);
  return 'max-age' in directives || (shared && 's-maxage' in directives) || response.headers.has('expires');
}

/**
 * An HTTP cache (RFC 9111) in front of the inner layers: fresh responses are served without
 * sending anything, stale ones are revalidated with `If-None-Match` / `If-Modified-Since`, and
 * the decisions (storable? fresh? which validators? stale-while-revalidate and stale-if-error
 * windows) are http-cache-semantics', shown each response as RFC 9111 reads it. Responses vary on
 * the request headers their `Vary` names and on every credential the request carries; identical
 * concurrent misses send one request; a miss reaches the caller as soon as its headers arrive,
 * its body streamed through while a copy is stored; byte ranges are served from stored responses
 * and parts are combined; a successful unsafe request (POST, PUT, PATCH, DELETE) invalidates its
 * URL and its same-origin `Location` / `Content-Location`. The fetch cache modes (`init.cache`)
 * are honoured.
 *
 * `ctx.cache.status` and the `x-cache` response header say what happened (`HIT`, `MISS`,
 * `STALE`, `REVALIDATED`, `BYPASS`). Every response served from the cache is a fresh `Response`.
 * Place it outside retry, the circuit breaker and per-attempt timeouts, so that it sees their
 * outcome (and serves stale when they give up), and inside any layer that sets credentials.
 *
 * @example
 * const client = compose()
 *   .use(cache({ defaultTtlMs: 60_000 }))
 *   .use(retry())
 *   .build({ baseUrl: 'https://api.example.com' });
 * const a = await client.get('/items'); // MISS
 * const b = await client.get('/items'); // HIT: nothing sent
 */
export function cache(options: CacheOptions = {}): CacheMiddleware {
  const parsed = parseOptions(cacheOptionsSchema, options, 'cache');
  const resolved = { ...parsed, maxEntryBytes: parsed.maxEntryBytes ?? defaultMaxEntryBytes(parsed.maxSizeBytes) };
  const { shared, defaultTtlMs, coalesce } = resolved;
  const store = resolved.store ?? memoryCacheStore({ maxSizeBytes: resolved.maxSizeBytes });
  const methods: ReadonlySet<string> = new Set(resolved.methods);
  const counts: Counts = { hits: 0, misses: 0, stale: 0, revalidated: 0, bypassed: 0, coalesced: 0, backgroundRevalidations: 0 };
  const closing = new AbortController();
  const layer: Layer = {
    shared,
    staleWhileRevalidate: resolved.staleWhileRevalidate,
    staleIfError: resolved.staleIfError,
    staleOnErrorMs: resolved.staleOnErrorMs,
    maxEntryBytes: resolved.maxEntryBytes,
    entries: new Entries(store),
    counts,
    background: new Map(),
    closing: closing.signal,
  };
  const flights = new Flights();
  // Bumped by clear() when the store cannot clear itself: every key of older generations is
  // then out of reach.
  let generation = 0;

  async function invalidate(ctx: BaseContext, request: ShallotRequest, response: Response): Promise<void> {
    for (const url of invalidatedUrls(request, response)) {
      for (const method of methods) await layer.entries.drop(ctx.log, primaryKey(method, url, generation));
    }
  }

  function jobOf(ctx: BaseContext, next: Next, state: CacheContext, method: string, scan: RequestScan): Job {
    const request = ctx.request;
    const asked = scan.asked;
    return {
      ctx,
      next,
      request,
      keys: requestKeys(ctx, method, scan.credentials, generation),
      asked: method === request.method ? asked : { ...asked, method },
      cls: policyClass(ctx.clock, defaultTtlMs),
      state,
      counted: true,
    };
  }

  /** The stored entry for the request: for a HEAD, a GET response serves too (RFC 9110 §9.3.2). */
  async function find(job: Job): Promise<Found | undefined> {
    const log = job.ctx.log;
    if (job.request.method === 'HEAD' && methods.has('GET')) {
      const keys = { ...job.keys, primary: primaryKey('GET', job.request.url, generation) };
      const found = await layer.entries.lookup(log, keys, job.request.headers, job.cls);
      if (found !== undefined && found.entry.status !== 206) return found;
    }
    return layer.entries.lookup(log, job.keys, job.request.headers, job.cls);
  }

  /** Leads a flight: fetches, and hands the outcome to the requests that joined meanwhile. */
  async function lead(job: Job, flightKey: string, found: Found | undefined): Promise<Response> {
    const end = flights.start(flightKey);
    const deadline = job.ctx.deadline;
    try {
      return await fetchUpstream(layer, job, found, true, end);
    } catch (error) {
      end({ kind: 'error', error, aborted: callerGaveUp(job.ctx, deadline) });
      throw error;
    }
  }

  /**
   * A joiner's answer from the flight it waited for: a response, or what to do instead. The
   * flight's entry is served when it matches and the store kept it (a store may refuse a record,
   * or have evicted it since): then it is what any later request would get.
   */
  async function follow(job: Job, outcome: FlightOutcome, found: Found | undefined): Promise<Response | 'again' | 'alone'> {
    switch (outcome.kind) {
      case 'entry': {
        if (outcome.variant !== variantOf(job.keys, outcome.vary, job.request.headers)) return 'again';
        if ((await layer.entries.read(job.ctx.log, outcome.key))?.kind !== 'response') return 'again';
        job.state.coalesced = true;
        return serve(layer, job, outcome.entry, outcome.policy, outcome.status);
      }
      case 'pass': {
        // Not shareable: send our own, unless upstream failed and the stale entry may stand in.
        if (outcome.status < 500 || !mayServeStale(layer, job, found)) return 'alone';
        job.state.coalesced = true;
        return serveStale(layer, job, found);
      }
      case 'again':
        return 'again';
      case 'error': {
        // The leader's caller gave up: that is no answer for us; look again (one of us leads).
        if (outcome.aborted) return 'again';
        if (!isUpstreamFailure(outcome.error) || !mayServeStale(layer, job, found)) throw outcome.error;
        job.state.coalesced = true;
        return serveStale(layer, job, found);
      }
    }
  }

  async function lookupAndServe(job: Job, onlyIfCached: boolean): Promise<Response> {
    const { ctx, request, state } = job;
    const mode = request.cache;
    for (let round = 1; ; round++) {
      const found = await find(job);
      if (found?.entry.status === 206) {
        if (onlyIfCached) break;
        return completePart(layer, job, found);
      }
      if (found !== undefined) {
        if (mode === 'no-cache') {
          if (isFreshImmutable(found.policy)) return serve(layer, job, found.entry, found.policy, 'HIT');
          return fetchUpstream(layer, job, found, false, alone);
        }
        const anyAge = mode === 'force-cache' || mode === 'only-if-cached';
        const decision = decide(found.policy, matchedRequest(job.asked, found.policy, found.vary), anyAge, layer.staleWhileRevalidate);
        if (decision.kind === 'serve') {
          if (!decision.stale) return serve(layer, job, found.entry, found.policy, 'HIT', undefined, decision.headers);
          return serve(layer, job, found.entry, found.policy, 'STALE', anyAge ? 'force-cache' : 'max-stale', decision.headers);
        }
        if (decision.kind === 'background' && !onlyIfCached) {
          state.revalidation = revalidateInBackground(layer, job, found);
          return serve(layer, job, found.entry, found.policy, 'STALE', 'stale-while-revalidate');
        }
      }
      if (onlyIfCached) break;
      if (mode === 'no-cache' || !coalesce || round > maxRounds) return fetchUpstream(layer, job, found, mode !== 'no-cache', alone);
      const flightKey = `${job.keys.primary}\n${job.keys.credentials}`;
      const flight = flights.find(flightKey);
      if (flight === undefined) return lead(job, flightKey, found);
      const answer = await follow(job, await unlessAborted(ctx, flight), found);
      if (answer === 'again') continue;
      if (answer === 'alone') return fetchUpstream(layer, job, found, true, alone);
      return answer;
    }
    return finish(layer, job, new Response(null, { status: 504, statusText: 'Gateway Timeout' }), 'MISS');
  }

  const handler = defineMiddleware<{}, { cache: CacheContext }>(
    async function cache(ctx, next) {
      const state: CacheContext = { status: 'BYPASS', staleReason: undefined, coalesced: false, revalidation: undefined };
      ctx.cache = state;
      const request = ctx.request;
      const method = request.method;
      if (!methods.has(method)) {
        const response = await next();
        if (!isUnsafeMethod(method) || response.status >= 400) return finish(layer, { state, counted: true }, response, 'BYPASS');
        await invalidate(ctx, request, response);
        if (method !== 'POST' || !methods.has('GET') || !reusablePost(request, response, shared)) return finish(layer, { state, counted: true }, response, 'BYPASS');
        return storeResponse(layer, jobOf(ctx, next, state, 'GET', scanRequest(ctx)), undefined, response, alone);
      }
      const scan = scanRequest(ctx);
      if (bypasses(request, scan)) return finish(layer, { state, counted: true }, await send(ctx, next, wireHeaders(request, undefined)), 'BYPASS');
      const onlyIfCached = request.cache === 'only-if-cached' || scan.onlyIfCached;
      const range = scan.range;
      const spec = range === undefined || method !== 'GET' ? undefined : parseRange(range);
      if (range !== undefined && spec === undefined) return finish(layer, { state, counted: true }, await next(), 'BYPASS');
      const job = jobOf(ctx, next, state, method, scan);
      if (spec !== undefined) return rangeRequest(layer, job, await find(job), spec, onlyIfCached);
      if (request.cache === 'reload') return fetchUpstream(layer, job, undefined, false, alone);
      return lookupAndServe(job, onlyIfCached);
    },
    {
      name: 'cache',
      options: resolved,
      close: async () => {
        closing.abort(new ClientClosedError());
        await Promise.allSettled([...layer.background.values()]);
      },
    },
  );

  const controls: CacheControls = {
    stats(): CacheStats {
      const usage = store.usage?.();
      return { ...counts, bytes: usage?.bytes, entries: usage?.entries };
    },
    async clear(): Promise<void> {
      if (store.clear === undefined) generation++;
      else await store.clear();
    },
  };
  return Object.assign(handler, controls) as CacheMiddleware;
}
