export { RequestBody, type BodyPayload, type BodySource } from './body.js';
export {
  compose,
  clientOptionsSchema,
  type Builder,
  type Client,
  type ClientOptions,
  type Exchange,
  type HeadersInput,
  type LayerDescription,
  type RequestOptions,
  type SearchParamsInput,
  type SearchParamValue,
} from './client.js';
export { realClock, type Clock } from './clock.js';
export { AbortScope, rootScope, type AbortScopeInit, type AbortSubscription } from './abort-scope.js';
export { DeadlineLane, expireAfter, Expiry } from './deadline-queue.js';
export { TransportSignal, transportSignal } from './transport-signal.js';
export {
  addRedirectHook,
  addTransportHook,
  closeScope,
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
export { isNullBodyStatus, LazyResponse, streamSource, type LazyResponseInit, type ResponseSource } from './response.js';
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
