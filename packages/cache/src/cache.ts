import {
  type BaseContext,
  ClientClosedError,
  defineMiddleware,
  fork,
  isShallotError,
  type Middleware,
  type Next,
  untilAborted,
  parseOptions,
  type ShallotRequest,
} from '@shallot/core';
import type CachePolicy from 'http-cache-semantics';
import type { CacheContext, CacheStats, CacheStatus, StaleReason } from './cache-context.js';
import { newEpoch, primaryKey, type RequestKeys, requestKeys, variantKey, variantOf } from './cache-keys.js';
import { discard, markResponse, readBounded, servedResponse } from './cached-response.js';
import { invalidatedUrls, isUnsafeMethod } from './invalidation.js';
import { memoryCacheStore } from './memory-store.js';
import { type CacheOptions, cacheOptionsSchema, defaultMaxEntryBytes } from './options.js';
import {
  cacheUrl,
  decide,
  hasValidators,
  headerRecord,
  type PolicyRequest,
  policyClass,
  policyObject,
  policyRequest,
  responsePolicy,
  revalidationHeaders,
  servedHeaders,
  staleIfErrorCovers,
  storedPolicy,
  storedRequest,
  varyNames,
} from './policy.js';
import { type FlightOutcome, Flights } from './single-flight.js';
import type { CacheEntry, CacheRecord, CacheStoreSetOptions } from './store.js';

/** What the cache layer has besides being a middleware. */
export interface CacheControls {
  /** Counters since the layer was made, and what the store holds. */
  stats(): CacheStats;
  /** Forgets every stored response. */
  clear(): Promise<void>;
}

/** The cache layer: a middleware that provides `ctx.cache`, with its counters and a way to empty it. */
export type CacheMiddleware = Middleware<{}, { cache: CacheContext }> & CacheControls;

/** A stored entry that matches the request. */
interface Found {
  /** Where it is stored. */
  readonly key: string;
  readonly entry: CacheEntry;
  readonly policy: CachePolicy;
  readonly vary: readonly string[];
  readonly variant: string;
}

/** One request as the cache works on it. */
interface Job {
  readonly ctx: BaseContext;
  readonly next: Next;
  /** The request as the caller made it (the context's may be swapped while a call is out). */
  readonly request: ShallotRequest;
  readonly keys: RequestKeys;
  readonly asked: PolicyRequest;
  readonly cls: ReturnType<typeof policyClass>;
  readonly state: CacheContext;
  /** False for background revalidations: they are not requests of a caller. */
  readonly counted: boolean;
}

/** A response for the caller and what requests that joined this one's flight should do. */
interface Result {
  readonly response: Response;
  readonly outcome: FlightOutcome;
}

// Headers a caller sends to make its own conditional or partial request: such a request is the
// caller's business, and passes through.
const callerConditionals = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range', 'range'];

// Errors that mean "upstream could not answer", for stale-if-error: the network, a timeout of an
// inner layer, an open circuit, retries given up.
const upstreamFailures: ReadonlySet<string> = new Set(['ERR_NETWORK', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN', 'ERR_MAX_RETRIES']);

// A joiner whose request turned out not to match the flight's variant looks again; bounded.
const maxRounds = 3;

// Variants listed in an index; past this, the oldest are deleted.
const maxVariants = 64;

function bypasses(request: ShallotRequest): boolean {
  if (request.body !== null || request.url.username !== '' || request.url.password !== '') return true;
  for (const name of callerConditionals) if (request.headers.has(name)) return true;
  return false;
}

/**
 * The request headers fetch adds for its cache modes, so caches between us and the origin
 * behave as asked: `no-store` and `reload` send `Pragma: no-cache` and `Cache-Control: no-cache`,
 * `no-cache` sends `Cache-Control: max-age=0` (each only if the caller set none).
 */
function wireHeaders(request: ShallotRequest, base: Headers | undefined): Headers | undefined {
  const mode = request.cache;
  if (mode !== 'no-store' && mode !== 'reload' && mode !== 'no-cache') return base;
  const headers = base ?? new Headers(request.headers);
  if (mode === 'no-cache') {
    if (!headers.has('cache-control')) headers.set('cache-control', 'max-age=0');
  } else {
    if (!headers.has('pragma')) headers.set('pragma', 'no-cache');
    if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache');
  }
  return headers;
}

/** Calls `next()` with the request headers swapped for `headers`, restoring the caller's after. */
async function send(ctx: BaseContext, next: Next, headers: Headers | undefined): Promise<Response> {
  if (headers === undefined) return next();
  const original = ctx.request;
  ctx.request = { ...original, headers };
  try {
    return await next();
  } finally {
    ctx.request = original;
  }
}

function isUpstreamFailure(error: unknown): boolean {
  return isShallotError(error) && upstreamFailures.has(error.code);
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

function setOptions(policy: CachePolicy): CacheStoreSetOptions {
  return { ttlMs: hasValidators(policy) ? undefined : policy.timeToLive() };
}

/**
 * An HTTP cache (RFC 9111) in front of the inner layers: fresh responses are served without
 * sending anything, stale ones are revalidated with `If-None-Match` / `If-Modified-Since`, and
 * every decision (storable? fresh? which validators? stale-while-revalidate and stale-if-error
 * windows) is made by http-cache-semantics. Responses vary on the request headers their `Vary`
 * names (and on the request's `Authorization`); identical concurrent misses send one request;
 * a successful unsafe request (POST, PUT, PATCH, DELETE) invalidates its URL and its same-origin
 * `Location` / `Content-Location`. The fetch cache modes (`init.cache`) are honoured.
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
  const { shared, defaultTtlMs, staleWhileRevalidate, staleIfError, coalesce, maxEntryBytes } = resolved;
  const store = resolved.store ?? memoryCacheStore({ maxSizeBytes: resolved.maxSizeBytes });
  const methods: ReadonlySet<string> = new Set(resolved.methods);
  const counts = { hits: 0, misses: 0, stale: 0, revalidated: 0, bypassed: 0, coalesced: 0, backgroundRevalidations: 0 };
  const flights = new Flights();
  const background = new Map<string, Promise<void>>();
  const closing = new AbortController();
  // Bumped by clear() when the store cannot clear itself: every key of older generations is
  // then out of reach.
  let generation = 0;

  // The store is never allowed to fail a request: a failing read is a miss, a failing write is
  // a response not stored.
  async function read(ctx: BaseContext, key: string): Promise<CacheRecord | undefined> {
    try {
      return await store.get(key);
    } catch (error) {
      ctx.log.warn({ err: error, key }, 'cache: store read failed; treated as a miss');
      return undefined;
    }
  }

  async function write(ctx: BaseContext, key: string, record: CacheRecord, setOptions?: CacheStoreSetOptions): Promise<void> {
    try {
      await store.set(key, record, setOptions);
    } catch (error) {
      ctx.log.warn({ err: error, key }, 'cache: store write failed; response not stored');
    }
  }

  async function remove(ctx: BaseContext, key: string): Promise<void> {
    try {
      await store.delete(key);
    } catch (error) {
      ctx.log.warn({ err: error, key }, 'cache: store delete failed');
    }
  }

  async function lookup(job: Job): Promise<Found | undefined> {
    const index = await read(job.ctx, job.keys.primary);
    if (index?.kind !== 'index') return undefined;
    const variant = variantOf(job.keys, index.vary, job.request.headers);
    const key = variantKey(job.keys, index.epoch, variant);
    const entry = await read(job.ctx, key);
    if (entry?.kind !== 'response') return undefined;
    return { key, entry, policy: storedPolicy(job.cls, entry.policy), vary: index.vary, variant };
  }

  async function put(job: Job, vary: readonly string[], variant: string, entry: CacheEntry, policy: CachePolicy): Promise<void> {
    const index = await read(job.ctx, job.keys.primary);
    // The same Vary: the same generation. A new Vary (or no index): a new generation, and the
    // variants of the old one go out of reach.
    const current = index?.kind === 'index' && sameNames(index.vary, vary) ? index : undefined;
    const epoch = current?.epoch ?? newEpoch();
    const key = variantKey(job.keys, epoch, variant);
    if (current === undefined || !current.variants.includes(key)) {
      const variants = [...(current?.variants ?? []), key];
      const dropped = variants.length > maxVariants ? variants.splice(0, variants.length - maxVariants) : [];
      await write(job.ctx, job.keys.primary, { kind: 'index', vary, epoch, variants });
      for (const old of dropped) await remove(job.ctx, old);
      if (index?.kind === 'index' && current === undefined) for (const old of index.variants) await remove(job.ctx, old);
    }
    await write(job.ctx, key, entry, setOptions(policy));
  }

  /** Deletes the index of a primary key and the variants it lists. */
  async function drop(ctx: BaseContext, primary: string): Promise<void> {
    const index = await read(ctx, primary);
    await remove(ctx, primary);
    if (index?.kind === 'index') for (const key of index.variants) await remove(ctx, key);
  }

  function finish(job: Pick<Job, 'state' | 'counted'>, response: Response, status: CacheStatus, staleReason?: StaleReason): Response {
    job.state.status = status;
    job.state.staleReason = staleReason;
    if (job.counted) {
      if (status === 'HIT') counts.hits++;
      else if (status === 'MISS') counts.misses++;
      else if (status === 'STALE') counts.stale++;
      else if (status === 'REVALIDATED') counts.revalidated++;
      else counts.bypassed++;
      if (job.state.coalesced) counts.coalesced++;
    }
    return markResponse(response, status);
  }

  function serve(job: Job, entry: CacheEntry, policy: CachePolicy, status: CacheStatus, staleReason?: StaleReason, computed?: CachePolicy.Headers): Response {
    const headers = servedHeaders(policy, computed);
    const init = { status: entry.status, statusText: entry.statusText, url: cacheUrl(job.request.url), method: job.request.method };
    return finish(job, servedResponse(entry.body, headers, init), status, staleReason);
  }

  function mayServeStale(job: Job, found: Found | undefined): found is Found {
    return staleIfError && found !== undefined && staleIfErrorCovers(found.policy, job.asked);
  }

  function serveStale(job: Job, found: Found): Response {
    return serve(job, found.entry, found.policy, 'STALE', 'stale-if-error');
  }

  /** Stores a full response if it may be, and answers the caller with it. */
  async function storeResponse(job: Job, found: Found | undefined, response: Response): Promise<Result> {
    const pass = (passed: Response): Result => ({ response: finish(job, passed, 'MISS'), outcome: { kind: 'pass', status: response.status } });
    // A followed redirect: the caching headers of the hops are not ours to see, so storing the
    // final response under the first URL could outlive a short-lived redirect.
    if (response.redirected) return pass(response);
    const vary = varyNames(response.headers);
    const policy = responsePolicy(
      job.cls,
      storedRequest(job.asked, vary),
      { status: response.status, headers: headerRecord(response.headers) },
      shared,
      defaultTtlMs,
    );
    if (!policy.storable() || vary.includes('*')) {
      // The entry it answers for is outdated now, unless upstream merely failed.
      if (found !== undefined && response.status < 500) await remove(job.ctx, found.key);
      return pass(response);
    }
    const body = await readBounded(response, maxEntryBytes);
    if (body instanceof Response) {
      if (found !== undefined) await remove(job.ctx, found.key);
      return pass(body);
    }
    const entry: CacheEntry = { kind: 'response', status: response.status, statusText: response.statusText, body, policy: policyObject(policy) };
    const variant = variantOf(job.keys, vary, job.request.headers);
    await put(job, vary, variant, entry, policy);
    const served = servedResponse(body, new Headers(response.headers), {
      status: response.status,
      statusText: response.statusText,
      url: response.url === '' ? cacheUrl(job.request.url) : response.url,
      method: job.request.method,
    });
    return { response: finish(job, served, 'MISS'), outcome: { kind: 'entry', entry, policy, vary, variant, status: 'MISS' } };
  }

  /**
   * Takes upstream's answer to a plain or conditional request: a 304 refreshes the entry, a 5xx
   * may give way to the stale entry, anything else is a full response.
   */
  async function absorb(job: Job, found: Found | undefined, response: Response, allowStale: boolean, resend: (() => Promise<Response>) | undefined): Promise<Result> {
    if (found !== undefined && response.status === 304) {
      discard(response);
      const revalidated = found.policy.revalidatedPolicy(storedRequest(job.asked, found.vary), {
        status: 304,
        headers: headerRecord(response.headers),
      });
      if (revalidated.matches) {
        const policy = revalidated.policy;
        const entry: CacheEntry = { ...found.entry, policy: policyObject(policy) };
        if (policy.storable()) await write(job.ctx, found.key, entry, setOptions(policy));
        else await remove(job.ctx, found.key);
        return {
          response: serve(job, entry, policy, 'REVALIDATED'),
          outcome: { kind: 'entry', entry, policy, vary: found.vary, variant: found.variant, status: 'REVALIDATED' },
        };
      }
      // A 304 whose validator is not the stored one's must not refresh it (RFC 9111 §4.3.4):
      // drop the entry and ask again without conditions, when this call still may.
      await remove(job.ctx, found.key);
      if (resend === undefined) return { response: finish(job, response, 'MISS'), outcome: { kind: 'pass', status: 304 } };
      return storeResponse(job, undefined, await resend());
    }
    if (response.status >= 500 && allowStale && mayServeStale(job, found)) {
      discard(response);
      return { response: serveStale(job, found), outcome: { kind: 'pass', status: response.status } };
    }
    return storeResponse(job, found, response);
  }

  /** Sends the request upstream (conditional when there is an entry) and takes the answer. */
  async function fetchUpstream(job: Job, found: Found | undefined, allowStale: boolean): Promise<Result> {
    const { ctx, next, request } = job;
    const conditional = found === undefined ? undefined : revalidationHeaders(found.policy, job.asked, request.headers);
    // Kept now: an outer timeout restores the context's signal as soon as it fires.
    const signal = ctx.signal;
    let response: Response;
    try {
      response = await send(ctx, next, wireHeaders(request, conditional));
    } catch (error) {
      // The caller's own abort or deadline is no upstream failure.
      if (!allowStale || signal.aborted || !isUpstreamFailure(error) || !mayServeStale(job, found)) throw error;
      return { response: serveStale(job, found), outcome: { kind: 'error', error, aborted: false } };
    }
    return absorb(job, found, response, allowStale, () => send(ctx, next, wireHeaders(request, undefined)));
  }

  /** Leads a flight: fetches, and hands the outcome to the requests that joined meanwhile. */
  async function lead(job: Job, flightKey: string, found: Found | undefined): Promise<Response> {
    const end = flights.start(flightKey);
    // Kept now: an outer timeout restores the context's signal as soon as it fires.
    const signal = job.ctx.signal;
    let outcome: FlightOutcome = { kind: 'pass', status: 0 };
    try {
      const result = await fetchUpstream(job, found, true);
      outcome = result.outcome;
      return result.response;
    } catch (error) {
      outcome = { kind: 'error', error, aborted: signal.aborted };
      throw error;
    } finally {
      end(outcome);
    }
  }

  /** A joiner's answer from the flight it waited for: a response, or what to do instead. */
  function follow(job: Job, outcome: FlightOutcome, found: Found | undefined): Response | 'again' | 'alone' {
    switch (outcome.kind) {
      case 'entry': {
        if (outcome.variant !== variantOf(job.keys, outcome.vary, job.request.headers)) return 'again';
        job.state.coalesced = true;
        return serve(job, outcome.entry, outcome.policy, outcome.status);
      }
      case 'pass': {
        // Not shareable: send our own, unless upstream failed and the stale entry may stand in.
        if (outcome.status < 500 || !mayServeStale(job, found)) return 'alone';
        job.state.coalesced = true;
        return serveStale(job, found);
      }
      case 'error': {
        // The leader's caller gave up: that is no answer for us; look again (one of us leads).
        if (outcome.aborted) return 'again';
        if (!isUpstreamFailure(outcome.error) || !mayServeStale(job, found)) throw outcome.error;
        job.state.coalesced = true;
        return serveStale(job, found);
      }
    }
  }

  /**
   * Starts revalidating `found` in the background (at most one per entry) and returns the
   * promise of it. The caller gets the stale response without waiting for it.
   */
  function revalidateInBackground(job: Job, found: Found): Promise<void> | undefined {
    const running = background.get(found.key);
    if (running !== undefined || closing.signal.aborted) return running;
    const bg = fork(job.ctx);
    // The revalidation is the cache's own request, not the caller's: it is not bound by the
    // caller's signal or deadline (they end with the caller's call), only by close(); and the
    // caller's transport hooks (its attempt spans) have seen their last attempt.
    bg.signal = closing.signal;
    bg.deadline = undefined;
    bg.transportHooks = undefined;
    const conditional = revalidationHeaders(found.policy, job.asked, job.request.headers);
    bg.request.headers = wireHeaders(job.request, conditional) ?? conditional;
    // `next()` is called here, while this middleware is still pending: once it has settled, the
    // onion rejects a call to `next()` (MiddlewareProtocolError). The request is sent now; its
    // outcome is taken care of after the caller has its stale response, without holding it.
    const pending = job.next(bg);
    counts.backgroundRevalidations++;
    const bgJob: Job = { ...job, ctx: bg, state: { status: 'MISS', staleReason: undefined, coalesced: false, revalidation: undefined }, counted: false };
    const task = (async () => {
      const response = await pending;
      const result = await absorb(bgJob, found, response, false, undefined);
      if (result.outcome.kind !== 'entry') discard(result.response);
    })()
      .catch((error: unknown) => {
        job.ctx.log.warn({ err: error, url: cacheUrl(job.request.url) }, 'cache: background revalidation failed; the stale entry is kept');
      })
      .finally(() => {
        background.delete(found.key);
      });
    background.set(found.key, task);
    return task;
  }

  async function invalidate(ctx: BaseContext, request: ShallotRequest, response: Response): Promise<void> {
    for (const url of invalidatedUrls(request, response)) {
      for (const method of methods) await drop(ctx, primaryKey(method, url, generation));
    }
  }

  const handler = defineMiddleware<{}, { cache: CacheContext }>(
    async function cache(ctx, next) {
      const state: CacheContext = { status: 'BYPASS', staleReason: undefined, coalesced: false, revalidation: undefined };
      ctx.cache = state;
      const request = ctx.request;
      if (!methods.has(request.method)) {
        const response = await next();
        if (isUnsafeMethod(request.method) && response.status < 400) await invalidate(ctx, request, response);
        return finish({ state, counted: true }, response, 'BYPASS');
      }
      if (request.cache === 'no-store' || bypasses(request)) {
        return finish({ state, counted: true }, await send(ctx, next, wireHeaders(request, undefined)), 'BYPASS');
      }
      const job: Job = {
        ctx,
        next,
        request,
        keys: requestKeys(request, generation),
        asked: policyRequest(request),
        cls: policyClass(ctx.clock),
        state,
        counted: true,
      };
      const mode = request.cache;
      if (mode === 'reload') return (await fetchUpstream(job, undefined, false)).response;

      for (let round = 1; ; round++) {
        const found = await lookup(job);
        if (found !== undefined) {
          if (mode === 'no-cache') return (await fetchUpstream(job, found, false)).response;
          const anyAge = mode === 'force-cache' || mode === 'only-if-cached';
          const decision = decide(found.policy, job.asked, anyAge, staleWhileRevalidate);
          if (decision.kind === 'serve') {
            if (!decision.stale) return serve(job, found.entry, found.policy, 'HIT', undefined, decision.headers);
            return serve(job, found.entry, found.policy, 'STALE', anyAge ? 'force-cache' : 'max-stale', decision.headers);
          }
          if (decision.kind === 'background') {
            state.revalidation = revalidateInBackground(job, found);
            return serve(job, found.entry, found.policy, 'STALE', 'stale-while-revalidate');
          }
        }
        if (mode === 'only-if-cached') {
          return finish(job, new Response(null, { status: 504, statusText: 'Gateway Timeout' }), 'MISS');
        }
        if (mode === 'no-cache' || !coalesce || round > maxRounds) return (await fetchUpstream(job, found, mode !== 'no-cache')).response;
        const flightKey = `${job.keys.primary}\n${job.keys.credentials}`;
        const flight = flights.find(flightKey);
        if (flight === undefined) return lead(job, flightKey, found);
        const answer = follow(job, await untilAborted(flight, ctx.signal), found);
        if (answer === 'again') continue;
        if (answer === 'alone') return (await fetchUpstream(job, found, true)).response;
        return answer;
      }
    },
    {
      name: 'cache',
      options: resolved,
      close: async () => {
        closing.abort(new ClientClosedError());
        await Promise.allSettled([...background.values()]);
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
