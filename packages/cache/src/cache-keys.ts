import { randomUUID } from 'node:crypto';
import type { BaseContext } from '@shallot/core';
import { cacheUrl } from './policy.js';
import { normalisedValue } from './vary.js';

/**
 * The keys of one request. Responses are indexed by method and URL (the primary key); under it,
 * each variant is keyed by the epoch of the index, the request's credentials and the values of
 * the headers the response varies on.
 */
export interface RequestKeys {
  /** Method and URL: where the index lives, and what unsafe methods invalidate. */
  readonly primary: string;
  /**
   * A SHA-256 digest of every credential header the request carries (`ctx.credentialHeaders`:
   * Authorization, Cookie, X-API-Key... and what an auth layer registered), or `''`. It is part
   * of every variant key, as if every response varied on all of them, so one client serving many
   * users never hands one user's response to another. The secrets themselves are never stored.
   */
  readonly credentials: string;
  /** The credential header names (`ctx.credentialHeaders`): their values count only through `credentials`. */
  readonly credentialNames: ReadonlySet<string>;
}

/** The primary key of `method` and `url`, under the cache's current generation. */
export function primaryKey(method: string, url: URL, generation: number): string {
  const key = `${method} ${cacheUrl(url)}`;
  return generation === 0 ? key : `${generation}|${key}`;
}

/** The keys of the request in `ctx`, stored under `method` (see {@link RequestKeys}). */
export function requestKeys(ctx: BaseContext, method: string, credentials: string, generation: number): RequestKeys {
  return { primary: primaryKey(method, ctx.request.url, generation), credentials, credentialNames: ctx.credentialHeaders };
}

/**
 * What tells two requests for the same URL apart for a response that varies on `vary`: their
 * credentials and the normalised values of those headers (a credential header named in `Vary`
 * counts through the digest only, so no secret enters a key).
 */
export function variantOf(keys: RequestKeys, vary: readonly string[], headers: Headers): string {
  if (vary.length === 0) return keys.credentials;
  const values = vary.map((name) => (keys.credentialNames.has(name) ? headers.has(name) : normalisedValue(name, headers.get(name))));
  return `${keys.credentials}\n${JSON.stringify(values)}`;
}

/** Where a variant is stored. */
export function variantKey(keys: RequestKeys, epoch: string, variant: string): string {
  return `${keys.primary}\n${epoch}\n${variant}`;
}

/** A new epoch for an index. */
export function newEpoch(): string {
  return randomUUID().slice(0, 8);
}
