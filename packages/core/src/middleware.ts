import type { BaseContext, Context } from './context.js';
import { MiddlewareProtocolError } from './errors.js';

declare const provides: unique symbol;
declare const requires: unique symbol;

/**
 * Calls the rest of the onion. With no argument it passes the current context; pass
 * `fork(ctx)` for a concurrent attempt. It may be called again once the previous call has
 * settled (retry, failover); a second call with the same context while one is pending, or any
 * call after the middleware itself settled, rejects with `MiddlewareProtocolError`.
 */
export type Next = (ctx?: BaseContext) => Promise<Response>;

/** What `describe()` reports of a layer. */
export interface LayerInfo {
  /** The factory's name (`retry`, `circuitBreaker`). */
  readonly name: string;
  /** The resolved options, as the layer runs with them. */
  readonly options?: unknown;
}

/**
 * A layer of the onion: takes the context and `next`, returns the Response from `next()` or one
 * it made itself.
 *
 * `Requires` names the context keys it reads that other middlewares provide; `Provides` names
 * the key it adds (`{ retry: RetryContext }`). The builder accumulates provided keys so inner
 * layers and the client are fully typed.
 */
export interface Middleware<Requires extends object = {}, Provides extends object = {}> {
  (ctx: Context<Requires & Partial<Provides>>, next: Next): Promise<Response>;
  /** Name and resolved options, for `describe()` and error messages. */
  readonly layer?: LayerInfo;
  /** Releases what the middleware holds (timers, connections); `client.close()` calls it. */
  readonly close?: () => void | Promise<void>;
  /** The middlewares a `chain()` is made of, outermost first. */
  readonly layers?: readonly Middleware<any, any>[];
  /** Type-level only: the context keys this middleware provides. */
  readonly [provides]?: Provides;
  /** Type-level only: the context keys this middleware requires. */
  readonly [requires]?: Requires;
}

/** What {@link defineMiddleware} attaches to a handler. */
export interface MiddlewareInfo {
  /** The name shown by `describe()` and in errors. @default the handler's function name */
  name?: string;
  /** The resolved options shown by `describe()`. */
  options?: unknown;
  /** Called once by `client.close()`. */
  close?: () => void | Promise<void>;
}

/**
 * Declares a middleware with its name, resolved options and typed context keys. Name the
 * handler function after the factory, so stack traces read well. The handler is returned with
 * the information attached: create a fresh handler per factory call.
 *
 * @example
 * interface StampContext { stamp: { at: number } }
 * export function stamp(): Middleware<{}, { stamp: StampContext['stamp'] }> {
 *   return defineMiddleware<{}, StampContext>(async function stamp(ctx, next) {
 *     ctx.stamp = { at: ctx.clock.now() };
 *     return next();
 *   }, { name: 'stamp' });
 * }
 */
export function defineMiddleware<Requires extends object = {}, Provides extends object = {}>(
  handler: (ctx: Context<Requires & Partial<Provides>>, next: Next) => Promise<Response>,
  info: MiddlewareInfo = {},
): Middleware<Requires, Provides> {
  Object.defineProperty(handler, 'layer', {
    value: { name: info.name ?? (handler.name || 'anonymous'), options: info.options },
    enumerable: true,
  });
  if (info.close !== undefined) Object.defineProperty(handler, 'close', { value: info.close, enumerable: true });
  return handler as Middleware<Requires, Provides>;
}

/** The name a middleware goes by in `describe()` and error messages. */
export function middlewareName(middleware: Middleware<any, any>): string {
  return middleware.layer?.name ?? (middleware.name || 'anonymous');
}

/** Flattens chains into the plain list of layers they stand for, outermost first. */
export function flattenLayers(middlewares: readonly Middleware<any, any>[]): Middleware<any, any>[] {
  const out: Middleware<any, any>[] = [];
  for (const m of middlewares) {
    if (m.layers !== undefined) out.push(...flattenLayers(m.layers));
    else out.push(m);
  }
  return out;
}

/** The innermost step of a run: the transport for a client, the outer `next` for a chain. */
export type Terminal = (ctx: BaseContext) => Promise<Response>;

/** Runs a list of layers around a terminal, enforcing the `next()` rules. */
export type Runner = (ctx: BaseContext, terminal: Terminal) => Promise<Response>;

interface Frame {
  settled: boolean;
  pending: BaseContext | undefined;
  forks: Set<BaseContext> | undefined;
}

function release(frame: Frame | undefined, ctx: BaseContext): void {
  if (frame === undefined) return;
  if (frame.pending === ctx) frame.pending = undefined;
  else frame.forks?.delete(ctx);
}

/**
 * Builds the onion: one frame per layer per request tracks whether that layer has settled and
 * which contexts it has a pending `next()` for. Each layer costs one closure and one `then`.
 */
export function createRunner(middlewares: readonly Middleware<any, any>[]): Runner {
  const layers = flattenLayers(middlewares);
  const names = layers.map(middlewareName);
  const n = layers.length;

  function invoke(i: number, ctx: BaseContext, terminal: Terminal, parent: Frame | undefined): Promise<Response> {
    let result: Promise<Response>;
    if (i === n) {
      try {
        result = terminal(ctx);
      } catch (error) {
        result = Promise.reject(error);
      }
      if (parent === undefined) return result;
      return result.then(
        (response) => {
          release(parent, ctx);
          return response;
        },
        (error: unknown) => {
          release(parent, ctx);
          throw error;
        },
      );
    }
    const layer = layers[i] as Middleware<any, any>;
    const name = names[i] as string;
    const frame: Frame = { settled: false, pending: undefined, forks: undefined };
    const next: Next = (target = ctx) => {
      if (frame.settled) {
        return Promise.reject(
          new MiddlewareProtocolError(name, 'called next() after it had settled', { request: target.request }),
        );
      }
      if (frame.pending === target || frame.forks?.has(target) === true) {
        return Promise.reject(
          new MiddlewareProtocolError(
            name,
            'called next() again while the previous call was pending; pass fork(ctx) for concurrent attempts',
            { request: target.request },
          ),
        );
      }
      if (frame.pending === undefined) frame.pending = target;
      else (frame.forks ??= new Set()).add(target);
      return invoke(i + 1, target, terminal, frame);
    };
    try {
      result = layer(ctx as Context<any>, next);
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (response) => {
        frame.settled = true;
        release(parent, ctx);
        if (!(response instanceof Response)) {
          throw new MiddlewareProtocolError(
            name,
            `resolved with ${response === null ? 'null' : typeof response} instead of a Response`,
            { request: ctx.request },
          );
        }
        return response;
      },
      (error: unknown) => {
        frame.settled = true;
        release(parent, ctx);
        throw error;
      },
    );
  }

  return (ctx, terminal) => invoke(0, ctx, terminal, undefined);
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type ProvidesOf<M> = M extends Middleware<any, infer P> ? P : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The context keys a list of middlewares provides, merged. */
export type ChainProvides<M extends readonly Middleware<any, any>[]> = Simplify<
  UnionToIntersection<ProvidesOf<M[number]>> extends infer I ? (I extends object ? I : {}) : {}
>;

/**
 * Makes one middleware of several, outermost first, so a plugin can publish a whole stack.
 * A chain used with `.use()` is inlined: it costs nothing over using its layers one by one.
 *
 * @example
 * export const resilient = () => chain(retry({ maxAttempts: 3 }), circuitBreaker());
 */
export function chain<const M extends readonly Middleware<any, any>[]>(...middlewares: M): Middleware<{}, ChainProvides<M>> {
  const layers = flattenLayers(middlewares);
  const run = createRunner(layers);
  const handler = function chain(ctx: BaseContext, next: Next): Promise<Response> {
    return run(ctx, next as Terminal);
  };
  Object.defineProperty(handler, 'layers', { value: layers, enumerable: true });
  Object.defineProperty(handler, 'layer', { value: { name: 'chain', options: { layers: layers.map(middlewareName) } } });
  const closers = layers.filter((l) => l.close !== undefined);
  if (closers.length > 0) {
    Object.defineProperty(handler, 'close', {
      value: async () => {
        await Promise.all(closers.map(async (l) => l.close?.()));
      },
    });
  }
  return handler as unknown as Middleware<{}, ChainProvides<M>>;
}
