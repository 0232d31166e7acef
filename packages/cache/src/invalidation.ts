import type { ShallotRequest } from '@shallot/core';

const safeMethods: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** True for methods that may change state on the server (RFC 9110 §9.2.1). */
export function isUnsafeMethod(method: string): boolean {
  return !safeMethods.has(method);
}

/**
 * The URLs a non-error response to an unsafe request invalidates (RFC 9111 §4.4): the request's
 * own, and those in `Location` and `Content-Location` when they are of the same origin (a
 * response must not be able to evict another origin's entries).
 */
export function invalidatedUrls(request: ShallotRequest, response: Response): URL[] {
  const urls = [request.url];
  for (const name of ['location', 'content-location']) {
    const value = response.headers.get(name);
    if (value === null || !URL.canParse(value, request.url.href)) continue;
    const target = new URL(value, request.url);
    if (target.origin === request.url.origin) urls.push(target);
  }
  return urls;
}
