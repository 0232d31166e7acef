import {
  addCredentialHeader,
  type BaseContext,
  createEndpointMatcher,
  defineMiddleware,
  type EndpointMatcher,
  endpointPatternProblem,
  InvalidOptionsError,
  isShallotError,
  type Middleware,
  parseOptions,
} from '@shallot/core';
import type { Credential } from './credential.js';
import { AuthTokenError } from './errors.js';
import {
  type AuthOptions,
  authOptionsSchema,
  type AuthType,
  basicCredentialsSchema,
  type EndpointAuthValues,
  endpointAuthValuesSchemas,
  headerNameSchema,
  type TokenSource,
  tokenSourceSchema,
} from './options.js';
import { authorizationCredential, buildScope, describeScope, type Scope, scopeOf } from './scope.js';

/** What `auth()` records on `ctx.auth`. */
export interface AuthContext {
  /** Whose credentials the request carries: `global`, an endpoint pattern, or `undefined` for none. */
  readonly scope: string | undefined;
  /** The headers this layer set (lower-case). A header the caller set is never among them. */
  readonly headers: readonly string[];
  /** True once a refused token was refreshed and the request sent again. */
  readonly refreshed: boolean;
}

/** Changes the credentials at run time; the next request uses them. */
export interface AuthControls {
  /** Sets the global API key (in `headerName`, default the `apiKeyHeader` option). */
  setApiKey(apiKey: TokenSource, headerName?: string): void;
  /** Sets the global `Authorization: Bearer <token>` (replacing an OAuth2 token or basic auth). */
  setBearerToken(token: TokenSource): void;
  /** Sets the global OAuth2 access token, sent as `Authorization: Bearer <token>` (replacing bearer or basic). */
  setOAuth2Token(token: TokenSource): void;
  /** Sets global basic auth (replacing a bearer or OAuth2 token). */
  setBasicAuth(username: string, password: string): void;
  /**
   * Sets one credential of an endpoint pattern, as the original's `set_endpoint_auth`: `apiKey`
   * (`{ apiKey, headerName? }` or the key), `bearer` and `oauth2` (`{ token }` or the token),
   * `basic` (`{ username, password }`), or `none` (the endpoint gets no credentials, not even
   * the global ones). Requests the pattern covers get its credentials instead of the global ones.
   */
  setEndpointAuth(pattern: string, type: AuthType, values?: EndpointAuthValues): void;
  /** Removes the credentials of `pattern` (its requests get the global ones again), or the global ones. */
  clearAuth(pattern?: string): void;
}

/** The middleware `auth()` returns, with its run-time controls. */
export interface AuthMiddleware extends Middleware<{}, { auth: AuthContext }>, AuthControls {}

interface Applied {
  readonly credential: Credential;
  readonly value: string;
}

class AuthState implements AuthContext {
  constructor(
    readonly scope: string | undefined,
    public applied: readonly Applied[],
    public refreshed = false,
  ) {}

  get headers(): readonly string[] {
    return this.applied.map((a) => a.credential.header);
  }
}

const empty = (name: string): Scope => scopeOf(name, undefined, undefined);
const isEmpty = (scope: Scope): boolean => scope.apiKey === undefined && scope.authorization === undefined;

function replayable(ctx: BaseContext): boolean {
  const body = ctx.request.body;
  return body === null || body.replayable;
}

/** Frees the connection a refused response still holds. */
function discard(response: Response): void {
  if (response.bodyUsed) return;
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // locked by someone else
  }
}

function tokenFailure(credential: Credential, ctx: BaseContext, error: unknown): unknown {
  if (isShallotError(error)) return error;
  const what = error instanceof TypeError && error.message.startsWith('returned ') ? error.message : 'threw';
  return new AuthTokenError(credential.kind, what, { request: ctx.request, cause: error });
}

const authTypes: Readonly<Record<string, 'apiKey' | 'bearer' | 'oauth2' | 'basic' | 'none'>> = {
  apiKey: 'apiKey',
  api_key: 'apiKey',
  bearer: 'bearer',
  oauth2: 'oauth2',
  basic: 'basic',
  none: 'none',
};

function patternOf(pattern: unknown, method: string): string {
  const problem = typeof pattern === 'string' ? endpointPatternProblem(pattern) : 'expected a string';
  if (problem !== undefined) throw new InvalidOptionsError(`${method}.pattern: ${problem}`);
  return pattern as string;
}

/**
 * Sends credentials: an API key in a header of your choice (`X-API-Key` by default), a bearer or
 * OAuth2 token, or basic auth, globally and per endpoint pattern (`host`, `host:port`,
 * `*.example.com`, a URL prefix; the most specific wins and replaces the global credentials).
 *
 * - A header the caller set always wins, and the caller's headers object is never changed.
 * - Each header it sets is registered as a credential of the request (`addCredentialHeader`):
 *   a redirect that leaves the origin drops it, caches partition by it, logs redact it.
 * - A token may be a getter `() => string | Promise<string>`: called once, then again only when
 *   the server answers 401 (`refreshOnStatus`) to a request that carried its token. Concurrent
 *   refusals share one call (single flight), and each refused request is sent once more with the
 *   new token, when its body can be re-sent.
 * - The setters (`setApiKey`, `setBearerToken`, `setOAuth2Token`, `setBasicAuth`,
 *   `setEndpointAuth`, `clearAuth`) change the credentials for the next request.
 *
 * Place it inside the layers that change the URL (hooks, a load balancer), so the credentials
 * follow the final host, and outside retry, so a replay after a refresh is retried like any
 * request.
 *
 * @example
 * const client = compose()
 *   .use(auth({ bearer: () => tokens.current(), endpoints: { 'billing.example.com': { apiKey: process.env.BILLING_KEY } } }))
 *   .use(retry())
 *   .build();
 */
export function auth(options: AuthOptions = {}): AuthMiddleware {
  const resolved = parseOptions(authOptionsSchema, options, 'auth');
  const defaultHeader = resolved.apiKeyHeader;
  const refreshOn = new Set(resolved.refreshOnStatus);
  let global: Scope = buildScope('global', resolved, defaultHeader);
  const endpoints = new Map<string, Scope>();
  for (const [pattern, scheme] of Object.entries(resolved.endpoints ?? {})) endpoints.set(pattern, buildScope(pattern, scheme, defaultHeader));
  let matcher: EndpointMatcher = createEndpointMatcher(endpoints.keys());
  let active = !isEmpty(global) || endpoints.size > 0;

  const changed = (): void => {
    matcher = createEndpointMatcher(endpoints.keys());
    active = !isEmpty(global) || endpoints.size > 0;
  };

  const scopeFor = (url: URL): Scope | undefined => {
    const pattern = endpoints.size === 0 ? undefined : matcher.match(url);
    const scope = pattern === undefined ? global : (endpoints.get(pattern) as Scope);
    return isEmpty(scope) ? undefined : scope;
  };

  /** Sets the scope's headers the caller did not set; sync when every value is known, so the common case awaits nothing. */
  function applyScope(ctx: BaseContext, scope: Scope): Applied[] | Promise<Applied[]> {
    const headers = ctx.request.headers;
    const applied: Applied[] = [];
    for (let i = 0; i < scope.credentials.length; i++) {
      const credential = scope.credentials[i] as Credential;
      if (headers.has(credential.header)) continue;
      const value = credential.value();
      if (typeof value !== 'string') return applyRest(ctx, scope.credentials.slice(i), applied);
      headers.set(credential.header, value);
      addCredentialHeader(ctx, credential.header);
      applied.push({ credential, value });
    }
    return applied;
  }

  /** The slow path of {@link applyScope}: waits for the getters whose token is not known yet. */
  async function applyRest(ctx: BaseContext, credentials: readonly Credential[], applied: Applied[]): Promise<Applied[]> {
    const headers = ctx.request.headers;
    for (const credential of credentials) {
      if (headers.has(credential.header)) continue;
      let value: string;
      try {
        value = await credential.value();
      } catch (error) {
        throw tokenFailure(credential, ctx, error);
      }
      headers.set(credential.header, value);
      addCredentialHeader(ctx, credential.header);
      applied.push({ credential, value });
    }
    return applied;
  }

  /** After a refusal: fresh values for the getters' credentials, or `undefined` when none changed. */
  async function refreshed(ctx: BaseContext, applied: readonly Applied[]): Promise<Applied[] | undefined> {
    let changedAny = false;
    const fresh: Applied[] = [];
    for (const a of applied) {
      if (!a.credential.refreshable) {
        fresh.push(a);
        continue;
      }
      let value: string;
      try {
        value = await a.credential.refresh(a.value);
      } catch (error) {
        throw tokenFailure(a.credential, ctx, error);
      }
      if (value !== a.value) changedAny = true;
      fresh.push({ credential: a.credential, value });
    }
    return changedAny ? fresh : undefined;
  }

  /** After a response with a refresh status: a fresh token and one more send, when that can help. */
  async function afterRefusal(ctx: BaseContext, next: () => Promise<Response>, state: AuthState, response: Response): Promise<Response> {
    if (!replayable(ctx)) return response;
    let fresh: Applied[] | undefined;
    try {
      fresh = await refreshed(ctx, state.applied);
    } catch (error) {
      discard(response);
      throw error;
    }
    if (fresh === undefined) return response;
    discard(response);
    const headers = ctx.request.headers;
    for (const a of fresh) headers.set(a.credential.header, a.value);
    state.applied = fresh;
    state.refreshed = true;
    ctx.log.debug({ status: response.status, scope: state.scope }, 'auth: the token was refused; sending the request again with a fresh one');
    return next();
  }

  function send(ctx: BaseContext & { auth?: AuthContext }, next: () => Promise<Response>, state: AuthState): Promise<Response> {
    ctx.auth = state;
    if (!state.applied.some((a) => a.credential.refreshable)) return next();
    return next().then((response) => (refreshOn.has(response.status) ? afterRefusal(ctx, next, state, response) : response));
  }

  function authenticate(ctx: BaseContext & { auth?: AuthContext }, next: () => Promise<Response>): Promise<Response> {
    // Sent again (a hook's re-send, a failover): take off what this layer set last time, as the
    // URL may now be another endpoint's.
    const prior = ctx.auth instanceof AuthState ? ctx.auth : undefined;
    if (prior !== undefined) {
      const headers = ctx.request.headers;
      for (const a of prior.applied) if (headers.get(a.credential.header) === a.value) headers.delete(a.credential.header);
    }
    const scope = scopeFor(ctx.request.url);
    if (scope === undefined) {
      ctx.auth = new AuthState(undefined, []);
      return next();
    }
    let applied: Applied[] | Promise<Applied[]>;
    try {
      applied = applyScope(ctx, scope);
    } catch (error) {
      return Promise.reject(error);
    }
    if (Array.isArray(applied)) return send(ctx, next, new AuthState(scope.name, applied));
    return applied.then((list) => send(ctx, next, new AuthState(scope.name, list)));
  }

  const handler = defineMiddleware<{}, { auth: AuthContext }>(
    function auth(ctx, next) {
      if (!active && ctx.auth === undefined) return next();
      return authenticate(ctx, next);
    },
    {
      name: 'auth',
      options: {
        get global() {
          return describeScope(global);
        },
        get endpoints() {
          return Object.fromEntries([...endpoints].map(([pattern, scope]) => [pattern, describeScope(scope)]));
        },
        apiKeyHeader: defaultHeader,
        refreshOnStatus: resolved.refreshOnStatus,
      },
    },
  );

  const token = (method: string, value: unknown): TokenSource => parseOptions(endpointAuthValuesSchemas.token, value, `${method}.token`) as TokenSource;

  const controls: AuthControls = {
    setApiKey(apiKey, headerName) {
      const key = parseOptions(tokenSourceSchema, apiKey, 'setApiKey.apiKey');
      const header = headerName === undefined ? defaultHeader : parseOptions(headerNameSchema, headerName, 'setApiKey.headerName');
      global = scopeOf('global', buildScope('global', { apiKey: key, apiKeyHeader: header }, defaultHeader).apiKey, global.authorization);
      changed();
    },
    setBearerToken(value) {
      global = scopeOf('global', global.apiKey, authorizationCredential({ bearer: token('setBearerToken', value) }));
      changed();
    },
    setOAuth2Token(value) {
      global = scopeOf('global', global.apiKey, authorizationCredential({ oauth2: token('setOAuth2Token', value) }));
      changed();
    },
    setBasicAuth(username, password) {
      const basic = parseOptions(basicCredentialsSchema, { username, password }, 'setBasicAuth');
      global = scopeOf('global', global.apiKey, authorizationCredential({ basic }));
      changed();
    },
    setEndpointAuth(pattern, type, values) {
      const name = patternOf(pattern, 'setEndpointAuth');
      const kind = typeof type === 'string' ? authTypes[type] : undefined;
      if (kind === undefined) {
        throw new InvalidOptionsError(`setEndpointAuth.type: expected one of 'apiKey' | 'bearer' | 'oauth2' | 'basic' | 'none', got ${JSON.stringify(type)}`);
      }
      const current = endpoints.get(name) ?? empty(name);
      let next: Scope;
      if (kind === 'none') next = empty(name);
      else if (kind === 'apiKey') {
        const parsed = parseOptions(endpointAuthValuesSchemas.apiKey, values, 'setEndpointAuth.values');
        const input = typeof parsed === 'object' ? { apiKey: parsed.apiKey, apiKeyHeader: parsed.headerName } : { apiKey: parsed };
        next = scopeOf(name, buildScope(name, input as { apiKey: TokenSource; apiKeyHeader?: string }, defaultHeader).apiKey, current.authorization);
      } else if (kind === 'basic') {
        next = scopeOf(name, current.apiKey, authorizationCredential({ basic: parseOptions(endpointAuthValuesSchemas.basic, values, 'setEndpointAuth.values') }));
      } else {
        const parsed = parseOptions(endpointAuthValuesSchemas.token, values, 'setEndpointAuth.values');
        const source = (typeof parsed === 'object' ? parsed.token : parsed) as TokenSource;
        next = scopeOf(name, current.apiKey, authorizationCredential(kind === 'bearer' ? { bearer: source } : { oauth2: source }));
      }
      endpoints.set(name, next);
      changed();
    },
    clearAuth(pattern) {
      if (pattern === undefined) global = empty('global');
      else endpoints.delete(patternOf(pattern, 'clearAuth'));
      changed();
    },
  };
  return Object.assign(handler, controls);
}
