import { randomUUID } from 'node:crypto';
import { addTransportHook, type Context, defineMiddleware, type Middleware, parseOptions, silentLogger, type TransportHook } from '@shallot/core';
import { type RequestIdOptions, requestIdOptionsSchema } from './options.js';

/** `ctx.requestId`: the id sent in the request-id header. */
export interface RequestIdContext {
  /** The id: the caller's own header value when they set one, else a generated one. */
  requestId: string;
}

/**
 * Sends a request id (`x-request-id` by default) with every request that has none, and keeps
 * the caller's when they set one. The same id goes out on every attempt (retries and hedges
 * included), is exposed as `ctx.requestId`, and is bound to `ctx.log` (`child({ requestId })`)
 * so every log line of the request carries it.
 *
 * @example
 * const client = compose().use(requestId()).use(tracing()).use(retry()).build();
 * const { context } = await client.exchange('GET', url);
 * context.requestId; // 'f3c1...'
 */
export function requestId(options?: RequestIdOptions): Middleware<{}, RequestIdContext> {
  const resolved = parseOptions(requestIdOptionsSchema, options, 'requestId');
  const header = resolved.header;
  const generate = resolved.generate ?? (() => randomUUID());
  // A layer inside may rebuild the headers of an attempt; one hook for every request puts the id back.
  const restoreId: TransportHook = (attemptCtx, send) => {
    const id = (attemptCtx as Context<Partial<RequestIdContext>>).requestId;
    if (id !== undefined && !attemptCtx.request.headers.has(header)) attemptCtx.request.headers.set(header, id);
    return send();
  };

  return defineMiddleware<{}, RequestIdContext>(
    async function requestId(ctx, next) {
      if (ctx.requestId === undefined) {
        const id = ctx.request.headers.get(header) ?? String(generate(ctx));
        ctx.requestId = id;
        ctx.request.headers.set(header, id);
        if (ctx.log !== silentLogger && typeof ctx.log.child === 'function') ctx.log = ctx.log.child({ requestId: id });
        addTransportHook(ctx, restoreId);
      } else if (!ctx.request.headers.has(header)) {
        ctx.request.headers.set(header, ctx.requestId);
      }
      return next();
    },
    { name: 'requestId', options: resolved },
  );
}
