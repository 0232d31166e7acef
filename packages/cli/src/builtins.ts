import { auth, authOptionsSchema } from '@shallot/auth';
import { cache, cacheOptionsSchema } from '@shallot/cache';
import { circuitBreaker, circuitBreakerOptionsSchema } from '@shallot/circuit-breaker';
import { cookies, cookiesOptionsSchema } from '@shallot/cookies';
import { hedge, hedgeOptionsSchema } from '@shallot/hedge';
import { loadBalancer, loadBalancerOptionsSchema } from '@shallot/load-balancer';
import { tls, tlsOptionsSchema } from '@shallot/mtls';
import { concurrencyLimit, concurrencyLimitOptionsSchema, rateLimit, rateLimitOptionsSchema } from '@shallot/rate-limit';
import { retry, retryOptionsSchema } from '@shallot/retry';
import { chaos, chaosOptionsSchema } from '@shallot/testing';
import { timeout, timeoutOptionsSchema } from '@shallot/timeout';
import { metrics, metricsOptionsSchema, requestId, requestIdOptionsSchema, tracing, tracingOptionsSchema } from '@shallot/tracing';
import type { MiddlewareRegistration } from './registry.js';

/** The middlewares of this repository that config files can name, in the recommended order of a stack. */
export const builtinMiddlewares: readonly MiddlewareRegistration[] = [
  { name: 'requestId', schema: requestIdOptionsSchema, factory: requestId, package: '@shallot/tracing', description: 'Sets a request id header, the same on every attempt.' },
  { name: 'tracing', schema: tracingOptionsSchema, factory: tracing, package: '@shallot/tracing', description: 'OpenTelemetry client spans, one child span per attempt, W3C traceparent.' },
  { name: 'metrics', schema: metricsOptionsSchema, factory: metrics, package: '@shallot/tracing', description: 'In-process per-host counts, status codes and latency percentiles.' },
  { name: 'cache', schema: cacheOptionsSchema, factory: cache, package: '@shallot/cache', description: 'An RFC 9111 HTTP cache with revalidation, stale-while-revalidate and single-flight misses.' },
  { name: 'timeout', schema: timeoutOptionsSchema, factory: timeout, package: '@shallot/timeout', description: 'Total, per-attempt, connect and read time bounds.' },
  { name: 'rateLimit', schema: rateLimitOptionsSchema, factory: rateLimit, package: '@shallot/rate-limit', description: 'A GCRA token bucket per key: wait for a token, or refuse.' },
  { name: 'concurrencyLimit', schema: concurrencyLimitOptionsSchema, factory: concurrencyLimit, package: '@shallot/rate-limit', description: 'A bulkhead: at most max requests in flight per key, queue more.' },
  { name: 'retry', schema: retryOptionsSchema, factory: retry, package: '@shallot/retry', description: 'Retries with backoff, idempotency rules and Retry-After.' },
  { name: 'circuitBreaker', schema: circuitBreakerOptionsSchema, factory: circuitBreaker, package: '@shallot/circuit-breaker', description: 'One breaker per key: fail fast while an upstream is down, probe it to recover.' },
  { name: 'loadBalancer', schema: loadBalancerOptionsSchema, factory: loadBalancer, package: '@shallot/load-balancer', description: 'Sends a request given as a path to one of several endpoints, with health checks and outlier ejection.' },
  { name: 'hedge', schema: hedgeOptionsSchema, factory: hedge, package: '@shallot/hedge', description: 'Sends a copy of a slow idempotent request; the first answer wins.' },
  { name: 'cookies', schema: cookiesOptionsSchema, factory: cookies, package: '@shallot/cookies', description: 'RFC 6265 cookies through tough-cookie, stored from every redirect hop.' },
  { name: 'auth', schema: authOptionsSchema, factory: auth, package: '@shallot/auth', description: 'An API key, bearer, OAuth2 or basic credentials per endpoint; a caller\'s own header wins.' },
  { name: 'tls', schema: tlsOptionsSchema, factory: tls, package: '@shallot/mtls', description: 'TLS settings, client certificates (mutual TLS) and SPKI pinning, per host.' },
  { name: 'chaos', schema: chaosOptionsSchema, factory: chaos, package: '@shallot/testing', description: 'Injects latency and failures, to try the layers outside it.' },
];
