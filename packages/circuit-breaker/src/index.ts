export { hostKey } from './breaker-key.js';
export { circuitBreaker, type CircuitBreakerContext, type CircuitBreakerControls, type CircuitBreakerMiddleware } from './circuit-breaker.js';
export { CircuitBreakerOpenError, isCircuitBreakerOpenError } from './errors.js';
export { defaultIsFailure } from './failure-classification.js';
export { fallback } from './fallback.js';
export {
  circuitBreakerOptionsSchema,
  fallbackOptionsSchema,
  type CircuitBreakerOptions,
  type CircuitKeyFunction,
  type CircuitOutcome,
  type FallbackHandler,
  type FallbackOptions,
  type IsFailure,
  type ResolvedCircuitBreakerOptions,
  type ResolvedFallbackOptions,
} from './options.js';
export type { CircuitBreakerSnapshot } from './snapshot.js';
export type { CircuitStateChange, CircuitStateListener } from './state-change.js';
export type { CircuitBreakerRecord, CircuitState } from './state-machine.js';
export { memoryCircuitBreakerStore, type CircuitBreakerStore, type CircuitBreakerStoreChange, type MemoryCircuitBreakerStoreOptions } from './store.js';
