import type { BaseContext, Hop, RedirectInfo, ShallotRequest } from './context.js';
import { BodyNotReplayableError, NetworkError } from './errors.js';
import type { TlsOptions } from './tls-options.js';
import { moveUrlCredentials } from './url-credentials.js';

/** Statuses that carry a redirect the transport follows. */
export const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

const bodyHeaders = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];

/** The TLS settings for a hop: the request's own on its origin, else what `ctx.tlsFor` says. */
export function hopTls(ctx: BaseContext, url: URL): TlsOptions | undefined {
  if (ctx.tlsFor === undefined || url === ctx.request.url || url.origin === ctx.request.url.origin) return ctx.tls;
  return ctx.tlsFor(url);
}

/** The first hop of a request: the request itself. */
export function firstHop(request: ShallotRequest): Hop {
  return { url: request.url, method: request.method, headers: request.headers, sendBody: request.body !== null };
}

/**
 * The next hop of a redirect chain, as fetch follows it, and safer: 303 (and 301/302 after a
 * POST) become a body-less GET; 307/308 re-send method and body (a stream body cannot be re-sent:
 * that is a `BodyNotReplayableError`). When the origin changes, every credential header
 * (`ctx.credentialHeaders`) and `Host` are dropped. A redirect from https to http is refused
 * unless the request allows it (`allowInsecureRedirect`). Throws when `redirect` is `'error'` or
 * the chain is longer than `maxRedirects`.
 */
export function nextHop(hop: Hop, status: number, location: string, redirects: number, maxRedirects: number, ctx: BaseContext): Hop {
  const request = ctx.request;
  if (request.redirect === 'error') {
    throw new NetworkError(`redirected (${status}) with redirect: 'error'`, { request });
  }
  if (redirects >= maxRedirects) throw new NetworkError(`more than ${maxRedirects} redirects`, { request });
  let url: URL;
  try {
    url = new URL(location, hop.url);
  } catch (error) {
    throw new NetworkError(`redirected (${status}) to an invalid location`, { request, cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new NetworkError(`redirected (${status}) to an unsupported protocol ${url.protocol}`, { request });
  }
  if (hop.url.protocol === 'https:' && url.protocol === 'http:' && request.allowInsecureRedirect !== true) {
    throw new NetworkError(`refused a redirect (${status}) from https to http ${url.host}; set allowInsecureRedirect: true to follow it`, { request });
  }
  const headers = new Headers(hop.headers);
  let { method, sendBody } = hop;
  if (status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST') {
    method = 'GET';
    sendBody = false;
    for (const name of bodyHeaders) headers.delete(name);
  }
  if (sendBody && request.body !== null && !request.body.replayable) {
    throw new BodyNotReplayableError({ request, cause: new Error(`redirect ${status}`) });
  }
  if (url.origin !== hop.url.origin) {
    for (const name of ctx.credentialHeaders) headers.delete(name);
    headers.delete('host');
  }
  // Credentials in a Location become Basic auth for that hop; they never stay in the URL.
  moveUrlCredentials(url, headers);
  return { url, method, headers, sendBody };
}

/** Runs the request's redirect hooks (see `addRedirectHook`) before the next hop is sent. */
export async function runRedirectHooks(ctx: BaseContext, info: RedirectInfo): Promise<void> {
  for (const hook of ctx.redirectHooks ?? []) await hook(ctx, info);
}
