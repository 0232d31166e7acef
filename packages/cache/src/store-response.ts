import type CachePolicy from 'http-cache-semantics';
import { type TeeEnd, teeBody } from './body-tee.js';
import { parseCacheControl } from './cache-control.js';
import { variantOf } from './cache-keys.js';
import { describeStoredBody } from './cached-response.js';
import type { Found } from './entries.js';
import { finish, type Job, type Layer, type Settle } from './layer.js';
import { parseContentRange } from './partial-content.js';
import { cacheUrl, hasValidators, headerRecord, policyObject, responsePolicy, storedRequest } from './policy.js';
import type { HeaderRecord } from './policy-class.js';
import type { CacheEntry, CacheStoreSetOptions } from './store.js';
import { varyNames } from './vary.js';

/** How a response is to be stored, beyond what its headers say. */
export interface StoreAs {
  /** A 206 may be stored (the request asked for a range). */
  readonly partial?: boolean;
  /** The policy request to store it under (a POST response stored for later GETs). */
  readonly asked?: Job['asked'];
  /** Bytes the response's body continues (a stored first part the 206 completes). */
  readonly prefix?: Uint8Array;
  /** The status the combined response has (200 for a completed part). */
  readonly status?: number;
}

/**
 * The store's hint: an entry without validators is of no use once past its freshness and its
 * stale windows (`staleOnErrorMs` is best effort beyond them: a store may have let it go).
 */
export function setOptions(policy: CachePolicy): CacheStoreSetOptions {
  return { ttlMs: hasValidators(policy) ? undefined : policy.timeToLive() };
}

function sendsCookies(record: HeaderRecord): boolean {
  return record['set-cookie'] !== undefined || record['set-cookie2'] !== undefined;
}

/**
 * Answers the caller with a response from upstream, storing it when it may be: a response that
 * may not be stored passes through as it is (the same object); one that may is handed to the
 * caller as soon as its headers are here (or, when its whole body came with them, once stored),
 * its body streamed through while a copy is kept (at most `maxEntryBytes`; past that, nothing is
 * stored and the stream goes on), and it is stored once its body is complete. `settle` tells the
 * flight how it ended, when it ended.
 *
 * A stored response never keeps `Set-Cookie`: it is not replayed to anyone, not even the caller
 * who got it. A shared cache does not store a response that sets cookies unless it is `public`.
 */
export async function storeResponse(layer: Layer, job: Job, found: Found | undefined, response: Response, settle: Settle, as: StoreAs = {}): Promise<Response> {
  const log = job.ctx.log;
  const pass = async (dropFound: boolean): Promise<Response> => {
    // The entry it answers for is outdated now, unless upstream merely failed.
    if (dropFound && found !== undefined && response.status < 500) await layer.entries.remove(log, found.key);
    settle({ kind: 'pass', status: response.status });
    return finish(layer, job, response, 'MISS');
  };
  // A followed redirect: the caching headers of the hops are not ours to see, so storing the
  // final response under the first URL could outlive a short-lived redirect.
  if (response.redirected) return pass(false);
  if (response.status === 206 && as.status === undefined && (as.partial !== true || found?.entry.status === 200)) return pass(false);

  const vary = varyNames(response.headers);
  const record = headerRecord(response.headers);
  const cookies = sendsCookies(record);
  delete record['set-cookie'];
  delete record['set-cookie2'];
  const status = as.status ?? response.status;
  if (status !== response.status) delete record['content-range'];
  const asked = as.asked ?? job.asked;
  const policy = responsePolicy(job.cls, storedRequest(asked, vary, job.keys.credentialNames), { status, headers: record }, layer.shared);
  if (!policy.storable() || vary.includes('*')) return pass(true);
  if (layer.shared && cookies && !('public' in parseCacheControl(typeof record['cache-control'] === 'string' ? record['cache-control'] : undefined))) return pass(true);
  // Nothing could ever reuse it: no freshness, no stale window, no validator.
  if (policy.maxAge() <= 0 && policy.timeToLive() <= 0 && !hasValidators(policy)) return pass(true);
  const range = status === 206 ? parseContentRange(record['content-range']) : undefined;
  if (status === 206 && range === undefined) return pass(true);
  const declared = response.headers.get('content-length');
  if (declared !== null && !response.headers.has('content-encoding') && Number(declared) + (as.prefix?.byteLength ?? 0) > layer.maxEntryBytes) return pass(true);

  const variant = variantOf(job.keys, vary, job.request.headers);
  const store = async (body: Uint8Array): Promise<void> => {
    const object = policyObject(policy);
    if (body.byteLength > 0) describeStoredBody(object.resh, body);
    // A part whose body is not the length its Content-Range says is no part of anything.
    if (range !== undefined && body.byteLength !== range.end - range.start + 1) {
      settle({ kind: 'pass', status });
      return;
    }
    const entry: CacheEntry = { kind: 'response', status, statusText: response.statusText, body, policy: object };
    const key = await layer.entries.put(log, job.keys, vary, variant, entry, setOptions(policy));
    settle({ kind: 'entry', key, entry, policy, vary, variant, status: 'MISS' });
  };

  const nullBody = response.body === null || job.request.method === 'HEAD';
  if (nullBody) {
    await store(new Uint8Array(0));
    return finish(layer, job, response, 'MISS');
  }
  // Set when the whole body has arrived, and when it is stored.
  let arrived: () => void = () => {};
  const bodyArrived = new Promise<'body'>((resolve) => {
    arrived = () => resolve('body');
  });
  let stored: Promise<void> = bodyArrived.then(() => undefined);
  const onEnd = async (end: TeeEnd): Promise<void> => {
    if (end.kind === 'complete') {
      stored = store(end.bytes);
      arrived();
      return stored;
    }
    if (end.kind === 'overflow') {
      if (found !== undefined) await layer.entries.remove(log, found.key);
      settle({ kind: 'pass', status });
      return;
    }
    // Upstream failed or the caller cancelled mid-body: the joiners ask again.
    settle({ kind: 'again' });
  };
  let headers = response.headers;
  if (status !== response.status) {
    headers = new Headers(headers);
    headers.delete('content-range');
    headers.delete('content-length');
  }
  const init = {
    status,
    statusText: response.statusText,
    url: response.url === '' ? cacheUrl(job.request.url) : response.url,
    redirected: response.redirected,
    prefix: as.prefix,
  };
  const served = teeBody(response, headers, init, layer.maxEntryBytes, onEnd);
  // A body that came with its headers (nothing more to wait for from upstream by the next turn of
  // the event loop) is stored before the caller gets it, so that the next request finds it, in
  // another process too; one still arriving is handed over at once and streams.
  if ((await Promise.race([bodyArrived, nextTurn()])) === 'body') await stored;
  return finish(layer, job, served, 'MISS');
}

function nextTurn(): Promise<'turn'> {
  return new Promise((resolve) => setImmediate(resolve, 'turn'));
}
