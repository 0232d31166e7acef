export { type LatencySummary } from './latency-histogram.js';
export { metrics, type HostStats, type MetricsMiddleware, type MetricsSnapshot } from './metrics.js';
export {
  metricsOptionsSchema,
  requestIdOptionsSchema,
  tracingOptionsSchema,
  type MetricsOptions,
  type RequestIdOptions,
  type ResolvedMetricsOptions,
  type ResolvedRequestIdOptions,
  type ResolvedTracingOptions,
  type TracingOptions,
} from './options.js';
export {
  isSensitiveKey,
  REDACTED,
  redactHeaders,
  redactJson,
  redactText,
  redactUrl,
  type HeadersLike,
  type RedactionOptions,
} from './redact.js';
export { redactingLogger } from './redacting-logger.js';
export { requestId, type RequestIdContext } from './request-id.js';
export { tracing, type TraceContext } from './tracing.js';
