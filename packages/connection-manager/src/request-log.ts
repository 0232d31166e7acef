import { defineMiddleware, type Middleware } from '@shallot/core';

/**
 * One log line per request, when it settles: `debug` with the method, URL, status, duration and
 * request headers, or `warn` with the error. The connection manager places it only when a logger
 * is given, and gives the client a redacting logger: the headers, URL and error pass through
 * `redactJson`/`redactText` before they reach it, so `Authorization: Bearer <token>` is logged as
 * `[REDACTED]` whole.
 */
export function requestLog(): Middleware {
  return defineMiddleware(
    async function requestLog(ctx, next) {
      const started = ctx.clock.now();
      try {
        const response = await next();
        const request = ctx.request;
        ctx.log.debug(
          { method: request.method, url: request.url, status: response.status, durationMs: ctx.clock.now() - started, headers: request.headers },
          `${request.method} ${request.url.origin}${request.url.pathname} -> ${response.status}`,
        );
        return response;
      } catch (error) {
        const request = ctx.request;
        ctx.log.warn({ method: request.method, url: request.url, durationMs: ctx.clock.now() - started, headers: request.headers, err: error }, `${request.method} ${request.url.origin}${request.url.pathname} failed`);
        throw error;
      }
    },
    { name: 'requestLog' },
  );
}
