export {
  chaosFaultKinds,
  chaosRatesSchema,
  chaosUpstreamOptionsSchema,
  createChaosUpstream,
  type ChaosFaultKind,
  type ChaosOutcomeKind,
  type ChaosRates,
  type ChaosUpstream,
  type ChaosUpstreamOptions,
  type ChaosUpstreamStats,
} from './chaos-upstream.js';
export { seededRandom } from './seeded-random.js';
export { chaos, chaosOptionsSchema, type ChaosMiddleware, type ChaosOptions, type ChaosStats } from './chaos.js';
export { mockTransport, type MockCall, type MockHandler, type MockTransport } from './mock-transport.js';
export {
  createTestServer,
  failTimes,
  type RecordedRequest,
  type Reply,
  type RouteHandler,
  type RouteSpec,
  type TestServer,
  type TestServerOptions,
} from './test-server.js';
export { virtualClock, type VirtualClock } from './virtual-clock.js';
export { waitFor, type WaitForOptions } from './wait-for.js';
export { settle } from './settle.js';
export { testCertificates, type TestCertificates } from './certificates.js';
export {
  runMiddlewareConformance,
  type ConformanceCheck,
  type ConformanceEnv,
  type ConformanceOptions,
  type ConformanceReport,
  type ConformanceRule,
} from './conformance.js';
export { createTestProxy, type ProxyLogEntry, type TestProxy, type TestProxyOptions } from './test-proxy.js';
