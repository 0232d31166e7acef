export {
  tlsEndpointOptionsSchema,
  tlsOptionsSchema,
  type ResolvedTlsEndpointOptions,
  type ResolvedTlsOptions,
  type TlsEndpointOptions,
  type TlsOptions,
} from './options.js';
export { spkiPin } from './spki-pin.js';
export { tls, type TlsMiddleware, type TlsReloadEvent } from './tls.js';
export { isTlsPinningError, TlsPinningError, type TlsPinningErrorInit } from './tls-pinning-error.js';
