import type { RequestBody } from './body.js';
import { type Clock, realClock } from './clock.js';
import { defaultCredentialHeaderSet } from './credentials.js';
import { type Logger, silentLogger } from './logger.js';
import { AbortScope, type AbortSubscription, rootScope } from './abort-scope.js';
import type { Progress } from './request-options.js';
import { neverAbortSignal } from './signals.js';
import type { TlsOptions } from './tls-options.js';

/** The fetch cache modes (`RequestInit.cache`). */
export type CacheMode = 'default' | 'no-store' | 'reload' | 'no-cache' | 'force-cache' | 'only-if-cached';

/** The fetch redirect modes (`RequestInit.redirect`). */
export type RedirectMode = 'follow' | 'manual' | 'error';

/** The request as every layer sees it; layers may change it before calling `next()`. */
export interface ShallotRequest {
  /** Upper-case method. */
  method: string;
  /** The absolute URL. */
  url: URL;
  /** Request headers. */
  headers: Headers;
  /** The body, or `null`. Replayable unless it is a stream. */
  body: RequestBody | null;
  /** The fetch cache mode asked for by the caller (read by the cache layer). @default 'default' */
  cache: CacheMode;
  /** What the transport does with a redirect. @default 'follow' */
  redirect: RedirectMode;
  /** Follow a redirect from https to http (refused with `NetworkError` otherwise). @default false */
  allowInsecureRedirect?: boolean | undefined;
  /** Bound on the decoded response body, in bytes (the transport's own bound applies too). */
  maxResponseBytes?: number | undefined;
  /** Told as the body is sent. */
  onUploadProgress?: ((progress: Progress) => void) | undefined;
  /** Told as the response body is read. */
  onDownloadProgress?: ((progress: Progress) => void) | undefined;
}

/** Per-request connection timeouts that the transport applies (set by `timeout({ connectMs, readMs })`). */
export interface TransportTimeouts {
  /** Bound on establishing the connection (TCP and TLS). */
  connectMs?: number | undefined;
  /** Bound on waiting for the response headers, and on each idle gap while the body streams in. */
  readMs?: number | undefined;
}

/**
 * The fields every context has, whatever the stack: one object per logical request, shared by
 * all layers.
 */
export interface BaseContext {
  /** Unique id of this logical request. */
  readonly id: string;
  /** The request; layers may change it before calling `next()`. */
  request: ShallotRequest;
  /**
   * Aborts when the caller aborts or a deadline passes; the transport honours it. Made on first
   * read (an `AbortController`): on a hot path prefer `aborted` and `onAbort()`. Assigning a
   * signal makes it the one the request aborts with.
   */
  signal: AbortSignal;
  /** The absolute time (per `clock.now()`) by which the call must finish, or `undefined`. */
  deadline: number | undefined;
  /** Milliseconds left before the deadline (never negative), or `Infinity` when there is none. */
  remainingMs(): number;
  /**
   * True once the caller aborted or a deadline passed: the cheap way to ask, where reading
   * `signal` would make an `AbortSignal`.
   */
  readonly aborted: boolean;
  /**
   * Calls `listener` with the reason when the request is aborted or a deadline passes (at once
   * if that already happened), without making an `AbortSignal`. Dispose the subscription when
   * the work it guards is done.
   */
  onAbort(listener: (reason: unknown) => void): AbortSubscription;
  /** The 1-based attempt number; retry layers set it. */
  attempt: number;
  /** Time source for every layer; swap in a virtual clock in tests. */
  clock: Clock;
  /** TLS settings the transport applies to this request's connections. */
  tls: TlsOptions | undefined;
  /**
   * TLS settings for another URL this request reaches, consulted by the transport for each hop
   * of a redirect that leaves the request's origin (a `tls()` layer with per-host endpoints sets
   * it). Without it a redirect keeps `tls`.
   */
  tlsFor: ((url: URL) => TlsOptions | undefined) | undefined;
  /** Connect and read timeouts the transport applies. */
  timeouts: TransportTimeouts;
  /** A pino-compatible logger; silent by default. */
  log: Logger;
  /** The context this one was forked from (see `fork`), if any. */
  readonly parent: BaseContext | undefined;
  /**
   * Hooks run around every send to the transport (each attempt), innermost last. An outer layer
   * adds one to see each attempt that inner layers (retry, hedge) make: tracing uses it for
   * attempt spans. Add with {@link addTransportHook}.
   */
  transportHooks: TransportHook[] | undefined;
  /**
   * Request headers that carry credentials (lower-case): dropped by redirects that leave the
   * origin, partitioned by caches, redacted in logs. The client's list; an auth layer adds the
   * header it sets with `addCredentialHeader(ctx, name)`.
   */
  credentialHeaders: ReadonlySet<string>;
  /**
   * Hooks the transport runs before it follows each redirect, in the order added (a cookie
   * layer stores the hop's Set-Cookie and sets the next hop's Cookie). Add with
   * {@link addRedirectHook}.
   */
  redirectHooks: RedirectHook[] | undefined;
}

/** One request of a redirect chain, as the transport sends it. */
export interface Hop {
  url: URL;
  method: string;
  headers: Headers;
  /** False once a redirect turned the request into a GET. */
  sendBody: boolean;
}

/** What a {@link RedirectHook} is told of a redirect about to be followed. */
export interface RedirectInfo {
  /** The redirect's status (301, 302, 303, 307, 308). */
  readonly status: number;
  /** The URL that answered with the redirect. */
  readonly from: URL;
  /** The headers of the redirect response (its `Set-Cookie`, say). */
  readonly responseHeaders: Headers;
  /** The next hop: its headers may be changed before it is sent. */
  readonly to: Hop;
}

/** Runs before the transport follows a redirect; may change the next hop's headers. */
export type RedirectHook = (ctx: BaseContext, redirect: RedirectInfo) => void | Promise<void>;

/**
 * Registers a hook the transport runs before it follows each redirect of this request, after it
 * has dropped the headers that must not cross origins. Returns a handle whose `dispose()`
 * removes it.
 *
 * @example
 * addRedirectHook(ctx, (_ctx, { responseHeaders, to }) => {
 *   jar.store(responseHeaders.getSetCookie());
 *   to.headers.set('cookie', jar.cookieFor(to.url));
 * });
 */
export function addRedirectHook(ctx: BaseContext, hook: RedirectHook): { dispose(): void } {
  const hooks = (ctx.redirectHooks ??= []);
  hooks.push(hook);
  return {
    dispose() {
      if (ctx.redirectHooks === hooks) ctx.redirectHooks = hooks.filter((h) => h !== hook);
      else ctx.redirectHooks = ctx.redirectHooks?.filter((h) => h !== hook);
    },
  };
}

/**
 * Wraps one send to the transport: call `send()` (at most once) and return its Response, or
 * throw. `ctx` is the context of that attempt.
 */
export type TransportHook = (ctx: BaseContext, send: () => Promise<Response>) => Promise<Response>;

/**
 * Registers a hook that runs around every attempt the transport sends for this request,
 * including those made by layers inside the caller (retries, hedges). Returns a handle whose
 * `dispose()` removes it.
 *
 * @example
 * addTransportHook(ctx, async (attemptCtx, send) => {
 *   const started = attemptCtx.clock.now();
 *   try { return await send(); } finally { record(attemptCtx.clock.now() - started); }
 * });
 */
export function addTransportHook(ctx: BaseContext, hook: TransportHook): { dispose(): void } {
  const hooks = (ctx.transportHooks ??= []);
  hooks.push(hook);
  return {
    dispose() {
      // Copy on write: a fork may share this list.
      if (ctx.transportHooks === hooks) ctx.transportHooks = hooks.filter((h) => h !== hook);
      else ctx.transportHooks = ctx.transportHooks?.filter((h) => h !== hook);
    },
  };
}

/**
 * The context of a stack: the base fields plus one namespaced key per middleware that
 * provides one (`ctx.retry`, `ctx.cache`...).
 */
export type Context<Ext extends object = {}> = BaseContext & Ext;

let counter = 0;
const prefix = Math.floor(Math.random() * 0x7fffffff).toString(36);

/** A process-unique request id. */
export function nextContextId(): string {
  return `${prefix}-${(++counter).toString(36)}`;
}

/** What {@link createContext} needs. */
export interface ContextInit {
  request: ShallotRequest;
  signal?: AbortSignal | undefined;
  deadline?: number | undefined;
  clock?: Clock | undefined;
  tls?: TlsOptions | undefined;
  timeouts?: TransportTimeouts | undefined;
  log: Logger;
  /** @default the built-in credential headers */
  credentialHeaders?: ReadonlySet<string> | undefined;
}

const scopeKey = Symbol('shallot.abortScope');

class ShallotContext implements BaseContext {
  readonly id: string;
  request: ShallotRequest;
  attempt = 1;
  clock: Clock;
  tls: TlsOptions | undefined;
  tlsFor: ((url: URL) => TlsOptions | undefined) | undefined = undefined;
  timeouts: TransportTimeouts;
  log: Logger;
  readonly parent: BaseContext | undefined;
  transportHooks: TransportHook[] | undefined = undefined;
  credentialHeaders: ReadonlySet<string>;
  redirectHooks: RedirectHook[] | undefined = undefined;
  [scopeKey]: AbortScope;

  constructor(init: ContextInit, id: string, parent: BaseContext | undefined, scope?: AbortScope) {
    this.id = id;
    this.request = init.request;
    this.clock = init.clock ?? realClock;
    this.tls = init.tls;
    this.timeouts = init.timeouts ?? {};
    this.log = init.log;
    this.credentialHeaders = init.credentialHeaders ?? defaultCredentialHeaderSet;
    this.parent = parent;
    const signal = init.signal === neverAbortSignal ? undefined : init.signal;
    this[scopeKey] =
      scope ?? (signal === undefined && init.deadline === undefined ? rootScope : new AbortScope({ source: signal, deadline: init.deadline }));
  }

  get signal(): AbortSignal {
    return this[scopeKey].signal;
  }

  set signal(signal: AbortSignal) {
    // A scope's own signal assigned back restores that scope (a layer restoring what it saved).
    this[scopeKey] = AbortScope.ownerOf(signal) ?? new AbortScope({ source: signal, deadline: this[scopeKey].deadline });
  }

  get deadline(): number | undefined {
    return this[scopeKey].deadline;
  }

  set deadline(deadline: number | undefined) {
    this[scopeKey] = new AbortScope({ parent: this[scopeKey], deadline });
  }

  get aborted(): boolean {
    return this[scopeKey].aborted;
  }

  onAbort(listener: (reason: unknown) => void): AbortSubscription {
    return this[scopeKey].onAbort(listener);
  }

  remainingMs(): number {
    const deadline = this[scopeKey].deadline;
    return deadline === undefined ? Infinity : Math.max(0, deadline - this.clock.now());
  }
}

/** The abort scope a context is in now (the transport subscribes to it for each send). */
export function scopeOf(ctx: BaseContext): AbortScope {
  return (ctx as ShallotContext)[scopeKey] ?? rootScope;
}

/**
 * Opens an abortable scope inside the context's current one (a timeout's, a hedge's): until it
 * is closed, everything the context starts aborts when it does. `deadline`, when sooner than the
 * current one, becomes `ctx.deadline` inside it.
 */
export function openScope(ctx: BaseContext, deadline?: number): AbortScope {
  const outer = scopeOf(ctx);
  const scope = new AbortScope({ parent: outer, abortable: true, deadline: deadline ?? outer.deadline });
  (ctx as ShallotContext)[scopeKey] = scope;
  return scope;
}

/**
 * Closes a scope opened with {@link openScope}: the context returns to the scope outside it. A
 * scope already left (an outer layer gave up on the call and moved on) leaves the context alone.
 */
export function closeScope(ctx: BaseContext, scope: AbortScope): void {
  scope.end();
  const holder = ctx as ShallotContext;
  for (let current: AbortScope | undefined = holder[scopeKey]; current !== undefined; current = current.parent) {
    if (current === scope) {
      holder[scopeKey] = scope.parent ?? rootScope;
      return;
    }
  }
}

let baseFields: ReadonlySet<string> | undefined;

/**
 * True for a field every context has (`request`, `clock`, `log`...); any other own key is a
 * middleware's (`retry`, `cache`...). For layers that copy or show the keys other layers set (a
 * hedge adopting the winning copy's keys, a trace of what each layer did).
 */
export function isContextField(key: string): boolean {
  baseFields ??= new Set(
    Object.keys(
      new ShallotContext(
        { request: { method: 'GET', url: new URL('http://localhost/'), headers: new Headers(), body: null, cache: 'default', redirect: 'follow' }, log: silentLogger },
        '',
        undefined,
      ),
    ),
  );
  return baseFields.has(key);
}

/** Makes a context; `compose()`'s client does this for every call. */
export function createContext(init: ContextInit): Context {
  return new ShallotContext(init, nextContextId(), undefined);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** What a fork may override. */
export interface ForkOptions {
  /** A signal that aborts this fork alone (the parent's signal still aborts it too). */
  signal?: AbortSignal;
  /**
   * Fork from outside this scope (one the forking layer opened with `openScope`): the fork is
   * not aborted when that scope is. A hedge forks its copies from outside its first copy's scope.
   */
  outside?: AbortScope;
}

/**
 * Copies a context for a concurrent attempt (hedging, fan-out): the copy has its own request
 * (headers and URL copied), its own copy of every middleware's plain-object key, and a signal
 * that aborts with the parent's or with `options.signal`. Pass it to `next(fork(ctx))`.
 *
 * @example
 * const controller = new AbortController();
 * const response = await next(fork(ctx, { signal: controller.signal }));
 */
export function fork<C extends BaseContext>(ctx: C, options: ForkOptions = {}): C {
  const base = options.outside?.parent ?? scopeOf(ctx);
  const scope = options.signal === undefined ? base : new AbortScope({ parent: base, source: options.signal });
  const copy = new ShallotContext(
    {
      request: { ...ctx.request, url: new URL(ctx.request.url.href), headers: new Headers(ctx.request.headers) },
      clock: ctx.clock,
      tls: ctx.tls,
      timeouts: { ...ctx.timeouts },
      log: ctx.log,
      credentialHeaders: ctx.credentialHeaders,
    },
    ctx.id,
    ctx,
    scope,
  );
  copy.attempt = ctx.attempt;
  copy.tlsFor = ctx.tlsFor;
  // A fork sees the hooks registered so far; hooks it adds stay its own.
  copy.transportHooks = ctx.transportHooks?.slice();
  copy.redirectHooks = ctx.redirectHooks?.slice();
  const target = copy as unknown as Record<string, unknown>;
  for (const key of Object.keys(ctx)) {
    if (key in copy) continue;
    const value = (ctx as unknown as Record<string, unknown>)[key];
    target[key] = isPlainObject(value) ? { ...value } : value;
  }
  return copy as unknown as C;
}
