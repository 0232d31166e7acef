import { type Context as OtelContext, context, type Span, trace } from '@opentelemetry/api';
import { defineMiddleware, type Middleware, parseOptions } from '@shallot/core';
import { metricAttributes } from './http-attributes.js';
import { instrumentSource, scopeName, scopeVersion } from './instruments.js';
import { idleTrace, recordingProbe } from './recording-probe.js';
import { BreakerStates } from './layer-events.js';
import { type TracingOptions, tracingOptionsSchema } from './options.js';
import { debugEnabled, RequestTrace, type TracingRuntime } from './request-trace.js';
import { attachTransportHook } from './transport-hook.js';

/** `ctx.trace`: the request's span, for layers and callers that add to it. */
export interface TraceContext {
  /** The CLIENT span of this logical request. */
  readonly span: Span;
  /** Its trace id (32 hex digits), as sent in `traceparent`. */
  readonly traceId: string;
  /** Its span id (16 hex digits). */
  readonly spanId: string;
  /** The OpenTelemetry context with the span active: `context.with(ctx.trace.context, fn)`. */
  readonly context: OtelContext;
}

/**
 * OpenTelemetry tracing and metrics through `@opentelemetry/api` alone (bring your own SDK).
 *
 * - One CLIENT span per logical request, named after the method, with the stable HTTP client
 *   conventions: `http.request.method`, `url.full` (credentials removed, sensitive and
 *   `redactQueryParams` keys redacted), `server.address`, `server.port`,
 *   `http.response.status_code`, `error.type`, `network.protocol.version`; status ERROR on 5xx
 *   and on errors. Its parent is the caller's active context.
 * - When a request is sent more than once (retry, hedge), one child span per attempt, with
 *   `http.request.resend_count` on the second and later ones.
 * - W3C `traceparent`/`tracestate` and baggage injected through the global propagator into
 *   every attempt's headers.
 * - Events for what the other layers did: `shallot.retry.scheduled` (delay),
 *   `shallot.hedge.sent`, `shallot.circuit_breaker.open`, `shallot.cache.result`,
 *   `shallot.rate_limit.wait`.
 * - Metrics: `http.client.request.duration` (s, the conventions' buckets),
 *   `http.client.active_requests`, and `shallot.client.retries`, `.hedges`,
 *   `.circuit_breaker.transitions`, `.cache.requests`, `.rate_limit.waits`.
 *
 * Place it outermost (after `requestId()`), so it sees every layer's work and every attempt.
 *
 * @example
 * const client = compose().use(tracing()).use(retry()).build();
 * const { context } = await client.exchange('GET', 'https://api.example.com/items');
 * context.trace.traceId; // the id the server saw in traceparent
 */
export function tracing(options?: TracingOptions): Middleware<{}, { trace: TraceContext }> {
  const resolved = parseOptions(tracingOptionsSchema, options, 'tracing');
  const runtime: TracingRuntime = {
    tracer: (resolved.tracerProvider ?? trace.getTracerProvider()).getTracer(scopeName, scopeVersion),
    options: resolved,
    redaction: { keys: resolved.redactQueryParams },
    breakers: new BreakerStates(),
  };
  const instruments = instrumentSource(resolved.meterProvider);
  const recording = recordingProbe(resolved.tracerProvider, resolved.propagator);

  return defineMiddleware<{}, { trace: TraceContext }>(
    async function tracing(ctx, next) {
      const current = instruments();
      if (!current.recording && !recording() && !debugEnabled(ctx.log)) {
        // No SDK, no meter, no propagator, no debug log: nothing would be recorded, sent or
        // logged, so nothing is built.
        ctx.trace = idleTrace(context.active());
        return next();
      }
      const attributes = metricAttributes(ctx.request.method, ctx.request.url);
      const request = new RequestTrace(runtime, ctx, context.active(), current, attributes);
      const { traceId, spanId } = request.span.spanContext();
      ctx.trace = { span: request.span, traceId, spanId, context: request.context };
      if (debugEnabled(ctx.log)) ctx.log.debug({ traceId, spanId, method: ctx.request.method, url: request.fullUrl }, 'shallot request started');
      const detach = attachTransportHook(ctx, request.hook);
      current.active.add(1, attributes);
      try {
        // Inner layers run with the request span active, so spans they (or user hooks) start nest under it.
        const response = await context.with(request.context, next);
        request.finish(response, undefined);
        return response;
      } catch (error) {
        request.finish(undefined, error);
        throw error;
      } finally {
        detach();
        current.active.add(-1, attributes);
      }
    },
    { name: 'tracing', options: resolved },
  );
}
