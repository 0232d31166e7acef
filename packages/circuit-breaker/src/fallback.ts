import { type BaseContext, defineMiddleware, HttpError, isShallotError, type Middleware, parseOptions } from '@shallot/core';
import { callerAborted } from './failure-classification.js';
import { type FallbackOptions, fallbackOptionsSchema } from './options.js';

/** Errors that report a mistake in the calling code, not a failing upstream: a fallback would hide them. */
const usageErrors = new Set(['ERR_INVALID_OPTIONS', 'ERR_MIDDLEWARE_PROTOCOL', 'ERR_CLIENT_CLOSED', 'ERR_BODY_NOT_REPLAYABLE']);

function answersByDefault(error: unknown, ctx: BaseContext): boolean {
  if (isShallotError(error) && usageErrors.has(error.code)) return false;
  return !callerAborted(ctx, error);
}

/**
 * Answers a request the inner layers failed: `handler(ctx, error)` makes the Response (a canned
 * one, or one fetched from a secondary service). By default it answers every error except the
 * caller's own abort; `when` narrows that (`when: isCircuitBreakerOpenError` answers only open
 * circuits), and `statuses` adds responses to answer (the handler then gets an `HttpError`
 * carrying the response, whose body it may read). Usage errors (invalid options, a broken
 * middleware protocol, a closed client, a stream body sent twice) are never answered by default.
 *
 * Place it outside the layers whose failures it covers: outside `circuitBreaker()` to answer
 * open circuits, outside `retry()` to answer only once the retries are spent.
 *
 * @example
 * compose()
 *   .use(fallback({ handler: (ctx) => secondary.get(ctx.request.url.pathname), when: isCircuitBreakerOpenError }))
 *   .use(circuitBreaker({ failureThreshold: 3 }))
 */
export function fallback(options: FallbackOptions): Middleware {
  const resolved = parseOptions(fallbackOptionsSchema, options, 'fallback');
  const { handler, when, statuses } = resolved;
  const answerStatus = new Set(statuses);
  return defineMiddleware(
    async function fallback(ctx, next) {
      let response: Response;
      try {
        response = await next();
      } catch (error) {
        const answers = (when ?? answersByDefault)(error, ctx);
        if (!answers) throw error;
        ctx.log.info({ err: error }, 'fallback: answering a failed request');
        return handler(ctx, error);
      }
      if (!answerStatus.has(response.status)) return response;
      const error = new HttpError(response, { request: ctx.request });
      if (when !== undefined && !when(error, ctx)) return response;
      ctx.log.info({ status: response.status }, 'fallback: answering a failed response');
      try {
        return await handler(ctx, error);
      } finally {
        // The replaced response is never returned: free its connection unless the handler read it.
        if (!response.bodyUsed) response.body?.cancel().catch(() => {});
      }
    },
    { name: 'fallback', options: resolved },
  );
}
