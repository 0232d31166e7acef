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
// The redaction functions live in core (errors and logs use them); re-exported where they started.
export {
  isSensitiveKey,
  REDACTED,
  redactHeaders,
  redactingLogger,
  redactJson,
  redactText,
  redactUrl,
  type HeadersLike,
  type RedactionOptions,
} from '@shallot/core';
export { requestId, type RequestIdContext } from './request-id.js';
export { tracing, type TraceContext } from './tracing.js';
