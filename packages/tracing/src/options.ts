import type { MeterProvider, TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import type { BaseContext } from '@shallot/core';
import { z } from 'zod';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP header name');

/** Options of `tracing()`. */
export const tracingOptionsSchema = z.strictObject({
  /** Where spans go. @default the global tracer provider (`trace.getTracerProvider()`) */
  tracerProvider: z
    .custom<TracerProvider>((v) => isObject(v) && typeof v.getTracer === 'function', { message: 'expected a TracerProvider (an object with getTracer())' })
    .optional(),
  /** Where metrics go. @default the global meter provider (`metrics.getMeterProvider()`), looked up per request */
  meterProvider: z
    .custom<MeterProvider>((v) => isObject(v) && typeof v.getMeter === 'function', { message: 'expected a MeterProvider (an object with getMeter())' })
    .optional(),
  /**
   * Writes `traceparent`/`tracestate`/`baggage` into each attempt's headers.
   * @default the global propagator (`propagation.inject`), which an SDK's `register()` sets
   */
  propagator: z
    .custom<TextMapPropagator>((v) => isObject(v) && typeof v.inject === 'function' && typeof v.fields === 'function', {
      message: 'expected a TextMapPropagator (an object with inject() and fields())',
    })
    .optional(),
  /**
   * Query (and fragment) keys whose values are replaced by `[REDACTED]` in `url.full`, on top of
   * the built-in sensitive keys (`token`, `secret`, `password`, `api_key`, `session`,
   * `sig`, `Signature`, `AWSAccessKeyId`...).
   * @default []
   */
  redactQueryParams: z.array(z.string().min(1)).default([]),
  /** Request headers recorded as `http.request.header.<name>` attributes (sensitive ones as `[REDACTED]`). @default [] */
  captureRequestHeaders: z.array(headerName).default([]),
  /** Response headers recorded as `http.response.header.<name>` attributes (sensitive ones as `[REDACTED]`). @default [] */
  captureResponseHeaders: z.array(headerName).default([]),
  /**
   * Also mark 4xx responses as span errors, as the HTTP conventions recommend for client spans.
   * Off by default: a 404 is often an answer, not a failure; 5xx and thrown errors always are.
   * @default false
   */
  markClientErrors: z.boolean().default(false),
  /**
   * Run each send to the transport with OpenTelemetry's "suppress tracing" flag, so that a
   * transport instrumentation (`@opentelemetry/instrumentation-undici`, `-http`) does not add a
   * second span for the request shallot already traces.
   * @default true
   */
  suppressTransportInstrumentation: z.boolean().default(true),
});

/** What users pass to `tracing()`. */
export type TracingOptions = z.input<typeof tracingOptionsSchema>;
/** {@link TracingOptions} as validated. */
export type ResolvedTracingOptions = z.output<typeof tracingOptionsSchema>;

/** Options of `requestId()`. */
export const requestIdOptionsSchema = z.strictObject({
  /** The header that carries the id. @default 'x-request-id' */
  header: headerName.default('x-request-id'),
  /** Makes an id for a request that has none. @default crypto.randomUUID() */
  generate: z.custom<(ctx: BaseContext) => string>((v) => typeof v === 'function', { message: 'expected a function (ctx) => string' }).optional(),
});

/** What users pass to `requestId()`. */
export type RequestIdOptions = z.input<typeof requestIdOptionsSchema>;
/** {@link RequestIdOptions} as validated. */
export type ResolvedRequestIdOptions = z.output<typeof requestIdOptionsSchema>;

/** Options of `metrics()`. */
export const metricsOptionsSchema = z.strictObject({
  /**
   * What the stats are grouped by: `'host'` (`host:port`, the port only when not the scheme's
   * default), `'origin'` (`https://host:port`) or a function of the context.
   * @default 'host'
   */
  key: z
    .union([
      z.enum(['host', 'origin']),
      z.custom<(ctx: BaseContext) => string>((v) => typeof v === 'function', { message: "expected 'host', 'origin' or a function (ctx) => string" }),
    ])
    .default('host'),
  /** The most keys kept; the least recently used idle key is dropped past it. @default 1000 */
  maxHosts: z.number().int().min(1).default(1000),
});

/** What users pass to `metrics()`. */
export type MetricsOptions = z.input<typeof metricsOptionsSchema>;
/** {@link MetricsOptions} as validated. */
export type ResolvedMetricsOptions = z.output<typeof metricsOptionsSchema>;
