export { auth, type AuthContext, type AuthControls, type AuthMiddleware } from './auth.js';
export { AuthTokenError, isAuthTokenError } from './errors.js';
export {
  authOptionsSchema,
  authSchemeSchema,
  basicCredentialsSchema,
  headerNameSchema,
  tokenSourceSchema,
  type AuthOptions,
  type AuthScheme,
  type AuthType,
  type BasicCredentials,
  type EndpointAuthValues,
  type ResolvedAuthOptions,
  type TokenGetter,
  type TokenSource,
} from './options.js';
