import { addTransportHook, type BaseContext, defineMiddleware, isContextField, type Middleware } from '@shallot/core';
import { redactJson } from '@shallot/tracing';

/** One send to the transport, as the trace saw it. */
export interface AttemptRecord {
  /** 1-based, as `ctx.attempt` said when it was sent. */
  readonly attempt: number;
  /** True for a hedge's copy (a forked context). */
  readonly forked: boolean;
  /** When it started, in ms after the request started. */
  readonly startMs: number;
  /** How long until the response headers or the error. */
  durationMs: number;
  status?: number | undefined;
  error?: string | undefined;
}

/** What one request went through. */
export interface RequestTrace {
  readonly attempts: AttemptRecord[];
  /** The keys the layers left on the context (`retry`, `cache`...), by name. */
  layers: Record<string, unknown>;
  /** The whole call, in ms. */
  totalMs: number;
}

/** The middleware keys on a context (`ctx.retry`, `ctx.cache`...), without functions and promises. */
export function layerKeys(ctx: BaseContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(ctx)) {
    if (isContextField(key) || typeof value === 'function') continue;
    out[key] = value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v !== 'function' && !(v instanceof Promise))) : value;
  }
  return redactJson(out) as Record<string, unknown>;
}

const errorText = (error: unknown): string => {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
};

/**
 * A layer to put outermost: it records every attempt that reaches the transport (retries and
 * hedges included) and, once the call settles, the keys every layer left on the context.
 * `traces` holds one entry per request, in the order they started.
 */
export function layerTrace(): Middleware & { readonly traces: RequestTrace[] } {
  const traces: RequestTrace[] = [];
  const middleware = defineMiddleware(
    async function layerTrace(ctx, next) {
      const started = performance.now();
      const trace: RequestTrace = { attempts: [], layers: {}, totalMs: 0 };
      traces.push(trace);
      addTransportHook(ctx, async (attemptCtx, send) => {
        const record: AttemptRecord = { attempt: attemptCtx.attempt, forked: attemptCtx.parent !== undefined, startMs: performance.now() - started, durationMs: 0 };
        trace.attempts.push(record);
        try {
          const response = await send();
          record.status = response.status;
          return response;
        } catch (error) {
          record.error = errorText(error);
          throw error;
        } finally {
          record.durationMs = performance.now() - started - record.startMs;
        }
      });
      try {
        return await next();
      } finally {
        trace.totalMs = performance.now() - started;
        trace.layers = layerKeys(ctx);
      }
    },
    { name: 'layerTrace' },
  );
  return Object.assign(middleware, { traces });
}
