import type { BaseContext } from './context.js';

/**
 * Request headers that carry credentials, lower-case. Redirects drop them when they leave the
 * origin, caches partition entries by them, logs and errors redact them. A client adds its own
 * with the `credentialHeaders` option; an auth layer registers the header it sets with
 * {@link addCredentialHeader}.
 */
export const defaultCredentialHeaders: readonly string[] = Object.freeze([
  'authorization',
  'cookie',
  'proxy-authorization',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-access-token',
  'x-access-key',
  'x-functions-key',
  'ocp-apim-subscription-key',
]);

/** The default list as a set, shared by every context of a client that adds nothing. */
export const defaultCredentialHeaderSet: ReadonlySet<string> = new Set(defaultCredentialHeaders);

/** The default list plus `extra` (any case), as the set a client hands every context. */
export function credentialHeaderSet(extra: readonly string[] | undefined): ReadonlySet<string> {
  if (extra === undefined || extra.length === 0) return defaultCredentialHeaderSet;
  return new Set([...defaultCredentialHeaders, ...extra.map((name) => name.toLowerCase())]);
}

/**
 * Registers `name` as a credential header for this request: redirects that leave the origin
 * drop it, and the cache partitions entries by it. An auth layer calls this for the header it
 * sets (a custom API-key header, say). The set is copied on first write, so the client's list
 * is never changed.
 *
 * @example
 * ctx.request.headers.set('x-partner-key', key);
 * addCredentialHeader(ctx, 'x-partner-key');
 */
export function addCredentialHeader(ctx: BaseContext, name: string): void {
  const lower = name.toLowerCase();
  if (ctx.credentialHeaders.has(lower)) return;
  ctx.credentialHeaders = new Set([...ctx.credentialHeaders, lower]);
}

/**
 * The credential headers a request carries, as `[name, value]` pairs sorted by name: what a
 * cache partitions by. Empty when it carries none.
 */
export function requestCredentials(ctx: BaseContext): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  const headers = ctx.request.headers;
  for (const name of ctx.credentialHeaders) {
    const value = headers.get(name);
    if (value !== null) found.push([name, value]);
  }
  return found.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
