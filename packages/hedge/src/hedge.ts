import {
  type BaseContext,
  type Context,
  createContext,
  defineMiddleware,
  fork,
  type Middleware,
  type Next,
  parseOptions,
  silentLogger,
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

let baseKeys: ReadonlySet<string> | undefined;
// The fields every context has; anything else on a winning copy is a middleware's key.
function contextFields(): ReadonlySet<string> {
  baseKeys ??= new Set(
    Object.keys(
      createContext({
        request: { method: 'GET', url: new URL('http://localhost/'), headers: new Headers(), body: null, cache: 'default', redirect: 'follow' },
        log: silentLogger,
      }),
    ),
  );
  return baseKeys;
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
    return new Promise<Response>((resolve, reject) => {
      const controllers: AbortController[] = [];
      let settled = false;
      let pending = 0;
      let firstError: unknown;
      let failed = false;
      let cancelTimer = noop;

      const finish = (winner: number): void => {
        settled = true;
        cancelTimer();
        const reason = new DOMException('hedge: another copy answered first', 'AbortError');
        controllers.forEach((controller, i) => {
          if (i !== winner) controller.abort(reason);
        });
      };

      const launch = (): void => {
        const index = controllers.length;
        const controller = new AbortController();
        controllers.push(controller);
        const copy = fork(ctx, { signal: controller.signal });
        const forked = new Map<string, unknown>();
        for (const key of Object.keys(copy)) forked.set(key, (copy as unknown as Record<string, unknown>)[key]);
        const started = clock.now();
        pending++;
        state.copies = controllers.length;
        next(copy).then(
          (response) => {
            pending--;
            if (settled) {
              release(response);
              return;
            }
            finish(index);
            latencies.record(host, clock.now() - started);
            state.winner = index;
            // Keys the inner layers set on the winning copy become the request's own.
            const fields = contextFields();
            const target = ctx as unknown as Record<string, unknown>;
            for (const key of Object.keys(copy)) {
              const value = (copy as unknown as Record<string, unknown>)[key];
              if (!fields.has(key) && key !== 'hedge' && value !== forked.get(key)) target[key] = value;
            }
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

      const schedule = (): void => {
        cancelTimer = clock.setTimer(delay, () => {
          if (settled || ctx.signal.aborted) return;
          if (!load.tryWithdraw()) return;
          state.hedged = true;
          ctx.log.debug({ copy: controllers.length, delayMs: delay }, 'hedge: sending a copy');
          launch();
          if (controllers.length <= maxHedges) schedule();
        });
      };

      launch();
      schedule();
    });
  }

  return defineMiddleware<{}, { hedge: HedgeContext }>(
    function hedge(ctx, next) {
      const state: HedgeContext = { hedged: false, winner: 0, copies: 1 };
      ctx.hedge = state;
      if (!hedgeable(ctx) || ctx.signal.aborted) return next();
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
