import { createHash, randomUUID } from 'node:crypto';
import type { ShallotRequest } from '@shallot/core';
import { cacheUrl } from './policy.js';

/**
 * The keys of one request. Responses are indexed by method and URL (the primary key); under it,
 * each variant is keyed by the epoch of the index, the request's credentials and the values of
 * the headers the response varies on.
 */
export interface RequestKeys {
  /** Method and URL: where the index lives, and what unsafe methods invalidate. */
  readonly primary: string;
  /**
   * A digest of the request's `Authorization`, or `''`. It is part of every variant key, as if
   * every response varied on `Authorization`, so one client serving many users never hands one
   * user's response to another.
   */
  readonly credentials: string;
}

/** The primary key of `method` and `url`, under the cache's current generation. */
export function primaryKey(method: string, url: URL, generation: number): string {
  const key = `${method} ${cacheUrl(url)}`;
  return generation === 0 ? key : `${generation}|${key}`;
}

/** The keys of a request (see {@link RequestKeys}). */
export function requestKeys(request: ShallotRequest, generation: number): RequestKeys {
  const authorization = request.headers.get('authorization');
  return {
    primary: primaryKey(request.method, request.url, generation),
    credentials: authorization === null ? '' : createHash('sha256').update(authorization).digest('base64url').slice(0, 22),
  };
}

/**
 * What tells two requests for the same URL apart for a response that varies on `vary`: their
 * credentials and the values of those headers.
 */
export function variantOf(keys: RequestKeys, vary: readonly string[], headers: Headers): string {
  if (vary.length === 0) return keys.credentials;
  return `${keys.credentials}\n${JSON.stringify(vary.map((name) => headers.get(name)))}`;
}

/** Where a variant is stored. */
export function variantKey(keys: RequestKeys, epoch: string, variant: string): string {
  return `${keys.primary}\n${epoch}\n${variant}`;
}

/** A new epoch for an index. */
export function newEpoch(): string {
  return randomUUID().slice(0, 8);
}
