export { batchOptionsSchema, type BatchItem, type BatchOptions } from './batch.js';
export { ConnectionManager, type ConnectionManagerContext, type EndpointCircuitStateChange } from './connection-manager.js';
export {
  clientCertificateSchema,
  connectionManagerOptionsSchema,
  endpointConfigSchema,
  verifySchema,
  type ConnectionManagerOptions,
  type EndpointConfig,
  type EndpointSettings,
  type ResolvedConnectionManagerOptions,
} from './options.js';
export { type CircuitStats, type ConnectionManagerStats, type RateLimitStats } from './stats.js';
// The hook contexts, for typing hooks.
export {
  ErrorContext,
  RequestContext,
  ResponseContext,
  type ErrorHook,
  type HookList,
  type HookRegistration,
  type HookTypeName,
  type PostResponseHook,
  type PreRequestHook,
} from '@shallot/hooks';
// The errors a connection manager throws. `ConnectionManagerError` is shallot's base class: every
// error below is one, each with a stable `code` and a guard that works across installed copies.
export {
  BodyNotReplayableError,
  ClientClosedError,
  HttpError,
  InvalidOptionsError,
  isBodyNotReplayableError,
  isClientClosedError,
  isHttpError,
  isInvalidOptionsError,
  isNetworkError,
  isShallotError as isConnectionManagerError,
  isTimeoutError,
  NetworkError,
  ShallotError as ConnectionManagerError,
  TimeoutError,
} from '@shallot/core';
export { AuthTokenError, isAuthTokenError, type AuthType, type EndpointAuthValues, type TokenSource } from '@shallot/auth';
export { CircuitBreakerOpenError, isCircuitBreakerOpenError, type CircuitState } from '@shallot/circuit-breaker';
export { isTlsPinningError, TlsPinningError } from '@shallot/mtls';
export { isRateLimitExceededError, RateLimitExceededError } from '@shallot/rate-limit';
export { isMaxRetriesExceededError, MaxRetriesExceededError } from '@shallot/retry';
