import { type Context, createContextKey } from '@opentelemetry/api';

/**
 * The key OpenTelemetry's SDK and instrumentations read to skip making spans
 * (`isTracingSuppressed` in `@opentelemetry/core`). `suppressTracing()` lives in
 * `@opentelemetry/core`, an SDK package we do not depend on at run time; `createContextKey`
 * makes its key with `Symbol.for(description)`, so the same description gives the very same
 * key, and instrumentation-undici/-http see the flag set here.
 */
const suppressTracingKey = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** `context` with tracing suppressed for instrumentations that run under it. */
export function suppressTracing(context: Context): Context {
  return context.setValue(suppressTracingKey, true);
}
