export { RequestBody, type BodyPayload, type BodySource } from './body.js';
export {
  compose,
  clientOptionsSchema,
  type Builder,
  type Client,
  type ClientOptions,
  type Exchange,
  type LayerDescription,
} from './client.js';
export {
  checkMethod,
  checkRequestOptions,
  type HeadersInput,
  type Progress,
  type RequestOptions,
  type SearchParamsInput,
  type SearchParamValue,
} from './request-options.js';
export { realClock, type Clock } from './clock.js';
export { AbortScope, rootScope, type AbortScopeInit, type AbortSubscription } from './abort-scope.js';
export { DeadlineLane, expireAfter, Expiry } from './deadline-queue.js';
export { TransportSignal, transportSignal } from './transport-signal.js';
export {
  addRedirectHook,
  addTransportHook,
  closeScope,
  isContextField,
  openScope,
  scopeOf,
  createContext,
  fork,
  nextContextId,
  type BaseContext,
  type CacheMode,
  type Context,
  type ContextInit,
  type ForkOptions,
  type Hop,
  type RedirectHook,
  type RedirectInfo,
  type RedirectMode,
  type ShallotRequest,
  type TransportHook,
  type TransportTimeouts,
} from './context.js';
export { withTimeout } from './deadline.js';
export { httpErrorBodyBytes, httpErrorWithBody } from './http-error-body.js';
export {
  compileEndpointPattern,
  createEndpointMatcher,
  endpointPatternProblem,
  matchEndpoint,
  type EndpointMatcher,
  type EndpointPattern,
  type EndpointPatternKind,
} from './endpoint-pattern.js';
export {
  BodyNotReplayableError,
  ClientClosedError,
  errorGuard,
  HttpError,
  InvalidOptionsError,
  isBodyNotReplayableError,
  isClientClosedError,
  isHttpError,
  isInvalidOptionsError,
  isMiddlewareProtocolError,
  isNetworkError,
  isShallotError,
  isTimeoutError,
  isResponseTooLargeError,
  isResponseValidationError,
  ResponseTooLargeError,
  ResponseValidationError,
  type ValidationIssue,
  type AbortTimeoutError,
  MiddlewareProtocolError,
  NetworkError,
  redactUrlCredentials,
  ShallotError,
  TimeoutError,
  type RequestTarget,
  type ShallotErrorOptions,
  type TimeoutKind,
} from './errors.js';
export { silentLogger, type LogFn, type Logger } from './logger.js';
export { Listeners, type Subscription } from './listeners.js';
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
export {
  chain,
  createRunner,
  defineMiddleware,
  flattenLayers,
  middlewareName,
  type ChainProvides,
  type LayerInfo,
  type Middleware,
  type MiddlewareInfo,
  type Next,
  type Runner,
  type Terminal,
} from './middleware.js';
export {
  nodeFetchTransport,
  nodeFetchTransportOptionsSchema,
  type NodeFetchTransportOptions,
  type ResolvedNodeFetchTransportOptions,
} from './node-fetch-transport.js';
export { formatIssues, formatValue, parseOptions } from './parse-options.js';
export { isNullBodyStatus, LazyResponse, responseProtocol, streamSource, type LazyResponseInit, type ResponseSource, type ShallotResponse, type StandardSchema } from './response.js';
export { abortReason, neverAbortSignal, signalWatchers, untilAborted, watchSignal } from './signals.js';
export { tlsKey, type TlsOptions } from './tls-options.js';
export { isPathOnly, pathOnlyBase, toTransportError, type Transport, type TransportStats } from './transport.js';
export { redirectStatuses } from './redirect.js';
export { moveUrlCredentials } from './url-credentials.js';
export {
  addCredentialHeader,
  credentialHeaderSet,
  defaultCredentialHeaders,
  requestCredentials,
} from './credentials.js';
export {
  undiciTransport,
  undiciTransportOptionsSchema,
  type ResolvedUndiciTransportOptions,
  type UndiciTransportOptions,
} from './undici-transport.js';
