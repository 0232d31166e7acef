import {
  type AbortScope,
  type BaseContext,
  closeScope,
  type Context,
  defineMiddleware,
  expireAfter,
  type Expiry,
  fork,
  isContextField,
  openScope,
  type Middleware,
  type Next,
  parseOptions,
} from '@shallot/core';
import { ExtraLoad } from './extra-load.js';
import { LatencyTracker } from './latency.js';
import { type HedgeOptions, hedgeOptionsSchema } from './options.js';

/** What `hedge()` records on `ctx.hedge`. */
export interface HedgeContext {
  /** True when at least one extra copy was sent. */
  hedged: boolean;
  /** Which copy answered: 0 for the first, 1 for the first hedge... */
  winner: number;
  /** Copies sent, the first included. */
  copies: number;
}

const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

const noop = (): void => {};

// The middleware keys of a fresh copy, to tell later which ones its inner layers changed.
function snapshot(copy: BaseContext): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  for (const key of Object.keys(copy)) keys.set(key, (copy as unknown as Record<string, unknown>)[key]);
  return keys;
}

// Keys the inner layers set on a winning copy become the request's own.
function adoptKeys(ctx: BaseContext, copy: BaseContext, forked: Map<string, unknown>): void {
  const target = ctx as unknown as Record<string, unknown>;
  for (const key of Object.keys(copy)) {
    const value = (copy as unknown as Record<string, unknown>)[key];
    if (!isContextField(key) && key !== 'hedge' && value !== forked.get(key)) target[key] = value;
  }
}

function hedgeable(ctx: BaseContext): boolean {
  const { method, headers, body } = ctx.request;
  if (body !== null && !body.replayable) return false;
  return idempotent.has(method) || headers.has('idempotency-key');
}

// Frees the connection of a copy that answered after another had won.
function release(response: Response): void {
  try {
    response.body?.cancel().catch(noop);
  } catch {
    // Already read or locked: nothing of ours to free.
  }
}

/**
 * Hedged requests (Dean and Barroso's "The Tail at Scale"): when an idempotent request has not
 * answered after `delayMs`, or after the `percentile` latency observed for its host, a copy is
 * sent; the first answer wins and the others are aborted, their sockets closed. `maxExtraLoad`
 * caps copies as a fraction of requests. POST and PATCH are never hedged without an
 * `Idempotency-Key` header, nor is a body that can only be sent once.
 *
 * Each copy runs the inner layers on its own `fork(ctx)`. Place it outside `retry()` to hedge
 * whole retried calls, or inside to hedge each attempt.
 *
 * @example
 * const client = compose()
 *   .use(hedge({ percentile: 95, delayMs: 50 }))
 *   .use(timeout({ attemptMs: 2_000 }))
 *   .build();
 */
export function hedge(options: HedgeOptions): Middleware<{}, { hedge: HedgeContext }> {
  const resolved = parseOptions(hedgeOptionsSchema, options, 'hedge');
  const { delayMs, percentile, minSamples, maxHedges, maxExtraLoad } = resolved;
  const latencies = new LatencyTracker(resolved.sampleSize, resolved.maxHosts);
  const load = new ExtraLoad(maxExtraLoad, Math.max(1, maxHedges));

  const delayFor = (host: string): number | undefined => {
    if (percentile === undefined) return delayMs;
    const observed = latencies.percentile(host, percentile, minSamples);
    return observed === undefined ? delayMs : Math.max(1, observed);
  };

  function race(ctx: Context<{ hedge?: HedgeContext }>, next: Next, state: HedgeContext, host: string, delay: number): Promise<Response> {
    const clock = ctx.clock;
    // The first copy runs on the request's own context, in a scope the hedge can abort: no
    // fork, timer or controller is made unless the delay expires before it answers.
    const primary = openScope(ctx);
    return new Promise<Response>((resolve, reject) => {
      const scopes: AbortScope[] = [primary];
      let settled = false;
      let pending = 0;
      let firstError: unknown;
      let failed = false;
      let expiry: Expiry | undefined;

      const finish = (winner: number): void => {
        settled = true;
        expiry?.cancel();
        if (winner !== 0 || scopes.length > 1) {
          const reason = new DOMException('hedge: another copy answered first', 'AbortError');
          scopes.forEach((scope, i) => {
            if (i !== winner) scope.abort(reason);
          });
        }
        closeScope(ctx, primary);
      };

      const run = (index: number, target: Context<{ hedge?: HedgeContext }>): void => {
        const started = clock.now();
        pending++;
        const forked = index === 0 ? undefined : snapshot(target);
        next(index === 0 ? undefined : target).then(
          (response) => {
            pending--;
            if (settled) {
              release(response);
              return;
            }
            finish(index);
            latencies.record(host, clock.now() - started);
            state.winner = index;
            if (forked !== undefined) adoptKeys(ctx, target, forked);
            resolve(response);
          },
          (error: unknown) => {
            pending--;
            if (settled) return;
            if (!failed) {
              failed = true;
              firstError = error;
            }
            // A failure is not a reason to hedge; with no copy left in flight, it is the answer.
            if (pending === 0) {
              finish(-1);
              reject(firstError);
            }
          },
        );
      };

      const onDelay = (): void => {
        expiry = undefined;
        if (settled || primary.aborted) return;
        if (!load.tryWithdraw()) return;
        state.hedged = true;
        ctx.log.debug({ copy: scopes.length, delayMs: delay }, 'hedge: sending a copy');
        // The copy is forked from outside the first copy's scope, so aborting one spares the other.
        const copy = fork(ctx, { outside: primary });
        scopes.push(openScope(copy));
        state.copies = scopes.length;
        run(scopes.length - 1, copy);
        if (scopes.length <= maxHedges) expiry = expireAfter(clock, delay, onDelay);
      };

      run(0, ctx);
      if (!settled) expiry = expireAfter(clock, delay, onDelay);
    });
  }

  return defineMiddleware<{}, { hedge: HedgeContext }>(
    function hedge(ctx, next) {
      const state: HedgeContext = { hedged: false, winner: 0, copies: 1 };
      ctx.hedge = state;
      if (!hedgeable(ctx) || ctx.aborted) return next();
      load.deposit();
      const host = ctx.request.url.host;
      const delay = delayFor(host);
      if (delay === undefined) {
        // Not enough latencies yet for a percentile: learn from this one.
        const started = ctx.clock.now();
        return next().then((response) => {
          latencies.record(host, ctx.clock.now() - started);
          return response;
        });
      }
      return race(ctx, next, state, host, delay);
    },
    { name: 'hedge', options: resolved },
  );
}
