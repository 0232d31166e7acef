import type { StaleReason } from './cache-context.js';
import { discard, servedResponse } from './cached-response.js';
import type { Found } from './entries.js';
import { alone, finish, type Job, type Layer } from './layer.js';
import { completes, continuation, type Part, partHeaders, partOf, type RangeSpec } from './partial-content.js';
import { cacheUrl, decide, matchedRequest, servedHeaders } from './policy.js';
import { absorb, fetchUpstream, send, wireHeaders } from './revalidation.js';
import { storeResponse } from './store-response.js';

/** Answers a range request with a part of a stored entry. */
function servePart(layer: Layer, job: Job, found: Found, part: Part, stale: StaleReason | undefined, computed: Parameters<typeof servedHeaders>[1]): Response {
  const headers = partHeaders(servedHeaders(found.policy, computed), part);
  const init = { status: 206, statusText: 'Partial Content', url: cacheUrl(job.request.url), method: job.request.method };
  return finish(layer, job, servedResponse(part.body, headers, init), stale === undefined ? 'HIT' : 'STALE', stale);
}

/**
 * A GET with one byte range (RFC 9111 §3.3-3.4): answered from a usable stored entry that holds
 * the bytes (a complete response, or a part that covers them); otherwise sent as it is, and a 206
 * that comes back is stored as a part, unless a complete response is stored already.
 */
export async function rangeRequest(layer: Layer, job: Job, found: Found | undefined, spec: RangeSpec, onlyIfCached: boolean): Promise<Response> {
  if (found !== undefined) {
    const mode = job.request.cache;
    const anyAge = mode === 'force-cache' || mode === 'only-if-cached';
    const decision = mode === 'no-cache' || mode === 'reload' ? undefined : decide(found.policy, matchedRequest(job.asked, found.policy, found.vary), anyAge, false);
    if (decision?.kind === 'serve') {
      const part = partOf(found.entry, spec);
      if (part !== undefined) return servePart(layer, job, found, part, decision.stale ? (anyAge ? 'force-cache' : 'max-stale') : undefined, decision.headers);
    }
  }
  if (onlyIfCached) return finish(layer, job, new Response(null, { status: 504, statusText: 'Gateway Timeout' }), 'MISS');
  const response = await send(job.ctx, job.next, wireHeaders(job.request, undefined));
  return storeResponse(layer, job, found, response, alone, { partial: true });
}

/**
 * A whole GET while a first part of the response is stored: only the rest is asked for
 * (`Range: bytes=N-`, with `If-Range` naming the part's strong validator), and a 206 that
 * completes the part is combined with it into one response, stored and served whole (RFC 9110
 * §15.3.7.3). Anything else is taken as the answer to a whole request.
 */
export async function completePart(layer: Layer, job: Job, found: Found): Promise<Response> {
  const wire = continuation(found.entry, found.policy, job.request.headers);
  if (wire === undefined) return fetchUpstream(layer, job, undefined, true, alone);
  const response = await send(job.ctx, job.next, wireHeaders(job.request, wire));
  if (response.status !== 206) return absorb(layer, job, undefined, response, true, undefined, alone);
  if (completes(found.entry, found.policy, response)) return storeResponse(layer, job, undefined, response, alone, { prefix: found.entry.body, status: 200 });
  // Parts of different representations are never combined: ask for the whole.
  discard(response);
  return fetchUpstream(layer, job, undefined, true, alone);
}
