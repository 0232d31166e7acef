import { type Context as OtelContext, INVALID_SPAN_CONTEXT, propagation, ProxyTracerProvider, trace, type TracerProvider } from '@opentelemetry/api';
import { scopeName, scopeVersion } from './instruments.js';
import type { TraceContext } from './tracing.js';
import type { ResolvedTracingOptions } from './options.js';

/**
 * A check, cheap enough for every request, that tells whether tracing would record or send
 * anything: true once a tracer provider (an SDK) is registered, or a propagator that writes
 * headers. It is asked per request because an SDK registered after the client was built is
 * picked up, as the API's proxy provider promises.
 */
export function recordingProbe(fixed: TracerProvider | undefined, propagator: ResolvedTracingOptions['propagator']): () => boolean {
  if (fixed !== undefined && !(fixed instanceof ProxyTracerProvider)) return () => true;
  if (propagator !== undefined && propagator.fields().length > 0) return () => true;
  return () => {
    const provider = fixed ?? trace.getTracerProvider();
    if (!(provider instanceof ProxyTracerProvider)) return true;
    if (provider.getDelegateTracer(scopeName, scopeVersion) !== undefined) return true;
    return propagator === undefined && propagation.fields().length > 0;
  };
}

const invalidSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** `ctx.trace` when nothing records: the caller's span if it has one, else the invalid span. */
export function idleTrace(active: OtelContext): TraceContext {
  const span = trace.getSpan(active) ?? invalidSpan;
  const { traceId, spanId } = span.spanContext();
  return { span, traceId, spanId, context: active };
}
