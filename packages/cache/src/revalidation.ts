import { type BaseContext, fork, isShallotError, type Next, type ShallotRequest } from '@shallot/core';
import { discard } from './cached-response.js';
import type { Found } from './entries.js';
import { finish, type Job, type Layer, mayServeStale, type Settle, serve, serveStale } from './layer.js';
import { cacheUrl, headerRecord, policyObject, revalidate, revalidationHeaders } from './policy.js';
import type { PolicyRequest } from './policy-class.js';
import { setOptions, storeResponse } from './store-response.js';
import type { CacheEntry } from './store.js';

// Errors that mean "upstream could not answer", for stale-if-error: the network, a timeout of an
// inner layer, an open circuit, retries given up.
const upstreamFailures: ReadonlySet<string> = new Set(['ERR_NETWORK', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN', 'ERR_MAX_RETRIES']);

/** True for an error that means upstream could not answer. */
export function isUpstreamFailure(error: unknown): boolean {
  return isShallotError(error) && upstreamFailures.has(error.code);
}

/**
 * True when the caller gave up: the request aborted, or `deadline` (the context's, read before
 * the call: an outer timeout leaves its scope as soon as it fires) has passed.
 */
export function callerGaveUp(ctx: BaseContext, deadline: number | undefined): boolean {
  return (deadline !== undefined && ctx.clock.now() >= deadline) || ctx.aborted;
}

/** `promise`, or a rejection with the reason as soon as the request aborts (no signal made). */
export function unlessAborted<T>(ctx: BaseContext, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const subscription = ctx.onAbort(reject);
    promise.then(
      (value) => {
        subscription.dispose();
        resolve(value);
      },
      (error: unknown) => {
        subscription.dispose();
        reject(error);
      },
    );
  });
}

/**
 * The request headers fetch adds for its cache modes, so caches between us and the origin
 * behave as asked: `no-store` and `reload` send `Pragma: no-cache` and `Cache-Control: no-cache`,
 * `no-cache` sends `Cache-Control: max-age=0` (each only if the caller set none).
 */
export function wireHeaders(request: ShallotRequest, base: Headers | undefined): Headers | undefined {
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
export async function send(ctx: BaseContext, next: Next, headers: Headers | undefined): Promise<Response> {
  if (headers === undefined) return next();
  const original = ctx.request;
  ctx.request = { ...original, headers };
  try {
    return await next();
  } finally {
    ctx.request = original;
  }
}

/** The policy request a stored entry is revalidated or refreshed for. */
function askedFor(job: Job, found: Found): PolicyRequest {
  const method = found.policy.toObject().m;
  return method === job.asked.method ? job.asked : { ...job.asked, method };
}

/**
 * Applies a 304 (or, RFC 9111 §4.3.5, the 200 of a HEAD) to a stored entry: refreshed and
 * served when it is about that entry; `undefined` when it is not.
 */
async function refresh(layer: Layer, job: Job, found: Found, response: Response, settle: Settle): Promise<Response | undefined> {
  const log = job.ctx.log;
  const headers = headerRecord(response.headers);
  delete headers['set-cookie'];
  delete headers['set-cookie2'];
  const stored = found.policy.toObject().resh['content-length'];
  // A HEAD whose Content-Length differs describes another representation.
  if (response.status !== 304 && headers['content-length'] !== undefined && stored !== undefined && headers['content-length'] !== stored) return undefined;
  const { policy, matches } = revalidate(found.policy, askedFor(job, found), { status: 304, headers });
  if (!matches) return undefined;
  const entry: CacheEntry = { ...found.entry, policy: policyObject(policy) };
  if (policy.storable()) await layer.entries.write(log, found.key, entry, setOptions(policy));
  else await layer.entries.remove(log, found.key);
  settle({ kind: 'entry', key: found.key, entry, policy, vary: found.vary, variant: found.variant, status: 'REVALIDATED' });
  return serve(layer, job, entry, policy, 'REVALIDATED');
}

/**
 * Takes upstream's answer to a plain or conditional request: a 304 refreshes the entry, a 5xx
 * may give way to the stale entry, anything else is a full response.
 */
export async function absorb(
  layer: Layer,
  job: Job,
  found: Found | undefined,
  response: Response,
  allowStale: boolean,
  resend: (() => Promise<Response>) | undefined,
  settle: Settle,
): Promise<Response> {
  if (found !== undefined && response.status === 304) {
    discard(response);
    const refreshed = await refresh(layer, job, found, response, settle);
    if (refreshed !== undefined) return refreshed;
    // A 304 whose validator is not the stored one's must not refresh it (RFC 9111 §4.3.4):
    // drop the entry and ask again without conditions, when this call still may.
    await layer.entries.remove(job.ctx.log, found.key);
    if (resend === undefined) {
      settle({ kind: 'pass', status: 304 });
      return finish(layer, job, response, 'MISS');
    }
    return storeResponse(layer, job, undefined, await resend(), settle);
  }
  if (found !== undefined && job.request.method === 'HEAD' && response.status === 200 && found.policy.toObject().m === 'GET') {
    const refreshed = await refresh(layer, job, found, response, settle);
    if (refreshed !== undefined) {
      discard(response);
      return refreshed;
    }
  }
  if (response.status >= 500 && allowStale && mayServeStale(layer, job, found)) {
    discard(response);
    settle({ kind: 'pass', status: response.status });
    return serveStale(layer, job, found);
  }
  return storeResponse(layer, job, found, response, settle);
}

/** Sends the request upstream (conditional when there is an entry) and takes the answer. */
export async function fetchUpstream(layer: Layer, job: Job, found: Found | undefined, allowStale: boolean, settle: Settle): Promise<Response> {
  const { ctx, next, request } = job;
  const deadline = ctx.deadline;
  const conditional = found === undefined || found.entry.status === 206 ? undefined : revalidationHeaders(found.policy, askedFor(job, found), request.headers);
  let response: Response;
  try {
    response = await send(ctx, next, wireHeaders(request, conditional));
  } catch (error) {
    // The caller's own abort or deadline is no upstream failure.
    if (!allowStale || !isUpstreamFailure(error) || callerGaveUp(ctx, deadline) || !mayServeStale(layer, job, found)) throw error;
    settle({ kind: 'error', error, aborted: false });
    return serveStale(layer, job, found);
  }
  return absorb(layer, job, found, response, allowStale, () => send(ctx, next, wireHeaders(request, undefined)), settle);
}

/**
 * Starts revalidating `found` in the background (at most one per entry) and returns the
 * promise of it. The caller gets the stale response without waiting for it.
 */
export function revalidateInBackground(layer: Layer, job: Job, found: Found): Promise<void> | undefined {
  const running = layer.background.get(found.key);
  if (running !== undefined || layer.closing.aborted) return running;
  const bg = fork(job.ctx);
  // The revalidation is the cache's own request, not the caller's: it is not bound by the
  // caller's signal or deadline (they end with the caller's call), only by close(); and the
  // caller's transport hooks (its attempt spans) have seen their last attempt.
  bg.signal = layer.closing;
  bg.deadline = undefined;
  bg.transportHooks = undefined;
  const asked = askedFor(job, found);
  const conditional = revalidationHeaders(found.policy, asked, job.request.headers);
  bg.request = { ...bg.request, method: asked.method, headers: wireHeaders(job.request, conditional) ?? conditional };
  // `next()` is called here, while this middleware is still pending: once it has settled, the
  // onion rejects a call to `next()` (MiddlewareProtocolError). The request is sent now; its
  // outcome is taken care of after the caller has its stale response, without holding it.
  const pending = job.next(bg);
  layer.counts.backgroundRevalidations++;
  const bgJob: Job = {
    ...job,
    ctx: bg,
    request: bg.request,
    asked,
    state: { status: 'MISS', staleReason: undefined, coalesced: false, revalidation: undefined },
    counted: false,
  };
  const task = (async () => {
    const response = await pending;
    let ended: () => void = () => {};
    const end = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const result = await absorb(layer, bgJob, found, response, false, undefined, () => ended());
    // Nobody reads this response: the cache has read its body as far as it stores it.
    await end;
    discard(result);
  })()
    .catch((error: unknown) => {
      job.ctx.log.warn({ err: error, url: cacheUrl(job.request.url) }, 'cache: background revalidation failed; the stale entry is kept');
    })
    .finally(() => {
      layer.background.delete(found.key);
    });
  layer.background.set(found.key, task);
  return task;
}
