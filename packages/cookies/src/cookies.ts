import { addRedirectHook, type BaseContext, defineMiddleware, type Middleware, parseOptions } from '@shallot/core';
import { CookieJar } from 'tough-cookie';
import { type CookiesOptions, cookiesOptionsSchema } from './options.js';

/** What `cookies()` puts on the context as `ctx.cookies`. */
export interface CookiesContext {
  /** The jar this request read from and wrote to. */
  readonly jar: CookieJar;
  /** How many cookies responses of this request (every redirect hop included) set. */
  stored: number;
}

/** The names a `Cookie` header already carries. */
function cookieNames(header: string): Set<string> {
  const names = new Set<string>();
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim();
    if (name !== '') names.add(name);
  }
  return names;
}

/**
 * RFC 6265 cookies through tough-cookie's `CookieJar`: the `Set-Cookie` of every response is
 * stored, those of each redirect hop included, and each request (each hop) carries the cookies
 * that apply to its URL, as a browser would: a cookie without `Domain` stays on its host,
 * `Secure` ones go over https only, `Path`, expiry and `SameSite`-free server rules are the jar's.
 * A `Cookie` header the caller set is kept; cookies from the jar are added after it unless it
 * already names them.
 *
 * Core drops the `Cookie` header when a redirect leaves the origin; this layer then sets the
 * cookies that belong to the new origin.
 *
 * @example
 * const jar = new CookieJar();
 * const client = compose().use(cookies({ jar })).build();
 * await client.post('https://app.example.com/login', { json: { user, password } });
 * await client.get('https://app.example.com/me'); // sends the session cookie
 */
export function cookies(options: CookiesOptions = {}): Middleware<{}, { cookies: CookiesContext }> {
  const resolved = parseOptions(cookiesOptionsSchema, options, 'cookies');
  const jar = resolved.jar ?? new CookieJar();
  const merge = resolved.mergeWithCallerCookies;

  const store = async (state: CookiesContext, setCookies: string[], url: string, ctx: BaseContext): Promise<void> => {
    for (const line of setCookies) {
      try {
        // ignoreError: a cookie the jar refuses (a Domain that does not match the host, say) is
        // dropped, as a browser drops it, and never fails the request.
        const stored = await jar.setCookie(line, url, { ignoreError: true });
        if (stored !== undefined) state.stored++;
      } catch (error) {
        ctx.log.debug({ err: error }, 'cookies: a Set-Cookie was not stored');
      }
    }
  };

  const attach = async (headers: Headers, url: string, callerCookie: string | null): Promise<void> => {
    const fromJar = await jar.getCookies(url);
    if (fromJar.length === 0) return;
    if (callerCookie === null || callerCookie === '') {
      headers.set('cookie', fromJar.map((c) => c.cookieString()).join('; '));
      return;
    }
    if (!merge) return;
    const named = cookieNames(callerCookie);
    const extra = fromJar.filter((c) => !named.has(c.key)).map((c) => c.cookieString());
    if (extra.length > 0) headers.set('cookie', [callerCookie, ...extra].join('; '));
  };

  return defineMiddleware<{}, { cookies: CookiesContext }>(
    async function cookies(ctx, next) {
      const state: CookiesContext = { jar, stored: 0 };
      ctx.cookies = state;
      const request = ctx.request;
      const callerCookie = request.headers.get('cookie');
      await attach(request.headers, request.url.href, callerCookie);
      addRedirectHook(ctx, async (_hop, redirect) => {
        await store(state, redirect.responseHeaders.getSetCookie(), redirect.from.href, ctx);
        // The transport dropped Cookie if the hop left the origin: send what belongs to the next URL.
        const sameOrigin = redirect.to.url.origin === redirect.from.origin;
        await attach(redirect.to.headers, redirect.to.url.href, sameOrigin ? callerCookie : null);
      });
      const response = await next();
      await store(state, response.headers.getSetCookie(), response.url === '' ? request.url.href : response.url, ctx);
      return response;
    },
    { name: 'cookies', options: { jar: resolved.jar === undefined ? 'memory' : 'custom', mergeWithCallerCookies: merge } },
  );
}
