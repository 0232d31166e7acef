import { type BaseContext, defineMiddleware, HttpError, isHttpError, type Middleware, type Next, parseOptions } from '@shallot/core';
import { ErrorContext, RequestContext, ResponseContext } from './contexts.js';
import { HookRegistry, type HookSnapshot } from './hook-registry.js';
import { type HooksOptions, hooksOptionsSchema } from './options.js';

/** The middleware `hooks()` returns, with the registry it runs. */
export interface HooksMiddleware extends Middleware {
  /** The registry whose hooks this layer runs. */
  readonly registry: HookRegistry;
}

const labels = { preRequest: 'pre-request', postResponse: 'post-response', error: 'error' } as const;

/**
 * Runs `list` in order, awaiting the hooks that return a promise. A hook that throws is logged
 * (`ctx.log.warn`) and skipped: it never breaks the request. `stop` is checked after each hook.
 */
async function runAll<A>(list: readonly ((arg: A) => void | Promise<void>)[], type: keyof typeof labels, arg: A, ctx: BaseContext, stop: () => boolean): Promise<void> {
  for (const hook of list) {
    try {
      const pending = hook(arg);
      if (pending !== undefined && typeof (pending as Promise<void>).then === 'function') await pending;
    } catch (error) {
      const name = hook.name || 'anonymous';
      ctx.log.warn({ err: error, hook: name, hookType: type }, `hooks: ${labels[type]} hook '${name}' threw; it was skipped`);
    }
    if (stop()) return;
  }
}

const never = (): boolean => false;

/** Frees the connection a response we drop still holds. */
function discard(response: Response | undefined): void {
  if (response === undefined || response.bodyUsed) return;
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // a locked body belongs to whoever locked it
  }
}

function replayable(ctx: BaseContext): boolean {
  const body = ctx.request.body;
  return body === null || body.replayable || body.sends === 0;
}

async function runHooks(ctx: BaseContext, next: Next, hooks: HookSnapshot, throwHttpErrors: boolean, maxHookRetries: number): Promise<Response> {
  const request = new RequestContext(ctx);
  if (hooks.preRequest.length > 0) await runAll(hooks.preRequest, 'preRequest', request, ctx, () => request.response !== undefined);
  let answer = request.response;
  let resends = 0;
  for (;;) {
    const fromHook = answer !== undefined;
    let response: Response;
    try {
      if (answer !== undefined) {
        response = answer;
        answer = undefined;
      } else {
        response = await next();
      }
      if (throwHttpErrors && response.status >= 400) throw new HttpError(response, { request: ctx.request });
    } catch (error) {
      if (hooks.error.length === 0) throw error;
      const handling = new ErrorContext(error, request, resends);
      await runAll(hooks.error, 'error', handling, ctx, () => handling.handled);
      const fallback = handling.fallbackResponse;
      if (fallback !== undefined) {
        if (isHttpError(error)) discard(error.response);
        ctx.log.debug({ hookResends: resends }, 'hooks: an error hook answered with a fallback response');
        return fallback;
      }
      if (handling.handled && resends < maxHookRetries && replayable(ctx)) {
        resends++;
        if (isHttpError(error)) discard(error.response);
        ctx.log.debug({ hookResends: resends }, 'hooks: an error hook handled the error; sending the request again');
        continue;
      }
      throw error;
    }
    if (hooks.postResponse.length === 0) return response;
    const outcome = new ResponseContext(response, request, fromHook);
    await runAll(hooks.postResponse, 'postResponse', outcome, ctx, never);
    if (outcome.response !== response) discard(response);
    return outcome.response;
  }
}

/**
 * The plugin system of requests-connection-manager as a middleware: pre-request, post-response
 * and error hooks from a {@link HookRegistry}, sync or async, each request running the hooks
 * registered when it started.
 *
 * - A pre-request hook gets a {@link RequestContext}: it may change the method, URL, headers and
 *   body (every inner layer sees the change, so a hook that moves a request to another host
 *   gets that host's timeouts, limits, breaker and credentials), or answer the request itself
 *   with `respondWith(response)`: nothing is sent.
 * - A post-response hook gets a {@link ResponseContext}: it may inspect or replace the response.
 * - Error hooks get an {@link ErrorContext} and run in order until one sets `handled`. A fallback
 *   response (`setFallbackResponse`) is returned to the caller; `handled` without one sends the
 *   request again, at most `maxHookRetries` times (a stream body is never re-sent). With
 *   `throwHttpErrors` they also see 4xx/5xx responses, as `HttpError`.
 * - A hook that throws is logged (`ctx.log.warn`) and skipped; it never breaks the request.
 *
 * Place it outside the layers that pick and protect an endpoint (auth, rate limit, retry,
 * circuit breaker), so what a hook changes is what they see. With no hook registered it costs
 * one property read.
 *
 * @example
 * const registry = new HookRegistry();
 * registry.registerErrorHook((ctx) => {
 *   if (isCircuitBreakerOpenError(ctx.error)) ctx.setFallbackResponse(Response.json({ items: [] }));
 * });
 * const client = compose().use(hooks(registry)).use(retry()).use(circuitBreaker()).build();
 */
export function hooks(registry: HookRegistry, options?: HooksOptions): HooksMiddleware {
  if (!(registry instanceof HookRegistry)) throw new TypeError('hooks(registry): expected a HookRegistry');
  const resolved = parseOptions(hooksOptionsSchema, options, 'hooks');
  const { throwHttpErrors, maxHookRetries } = resolved;
  const handler = defineMiddleware(
    function hooks(ctx, next) {
      const snapshot = registry.snapshot();
      if (snapshot.empty) {
        if (!throwHttpErrors) return next();
        return next().then((response) => {
          if (response.status >= 400) throw new HttpError(response, { request: ctx.request });
          return response;
        });
      }
      return runHooks(ctx, next, snapshot, throwHttpErrors, maxHookRetries);
    },
    {
      name: 'hooks',
      options: {
        ...resolved,
        get registered() {
          return registry.list();
        },
      },
    },
  );
  return Object.defineProperty(handler, 'registry', { value: registry, enumerable: true }) as HooksMiddleware;
}
