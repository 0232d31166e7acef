import { Credential } from './credential.js';
import type { BasicCredentials, TokenSource } from './options.js';

/** The credentials one scope (global, or one endpoint pattern) sends: at most an API key and one Authorization. */
export interface Scope {
  /** `global`, or the endpoint pattern. */
  readonly name: string;
  readonly apiKey: Credential | undefined;
  readonly authorization: Credential | undefined;
  /** The two above that are set, API key first. */
  readonly credentials: readonly Credential[];
}

/** A scope of these credentials. */
export function scopeOf(name: string, apiKey: Credential | undefined, authorization: Credential | undefined): Scope {
  return { name, apiKey, authorization, credentials: [apiKey, authorization].filter((c): c is Credential => c !== undefined) };
}

/** What a scope is built from (validated options, or a setter's arguments). */
export interface SchemeInput {
  apiKey?: TokenSource | undefined;
  apiKeyHeader?: string | undefined;
  bearer?: TokenSource | undefined;
  oauth2?: TokenSource | undefined;
  basic?: BasicCredentials | undefined;
}

const bearer = (token: string): string => `Bearer ${token}`;

/** `Basic base64(username:password)`, the password encoded as UTF-8. */
export function basicValue({ username, password }: BasicCredentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** An Authorization credential for one of the three schemes, or `undefined` for none. */
export function authorizationCredential(input: SchemeInput): Credential | undefined {
  if (input.bearer !== undefined) return new Credential('bearer', 'authorization', input.bearer, bearer);
  if (input.oauth2 !== undefined) return new Credential('oauth2', 'authorization', input.oauth2, bearer);
  if (input.basic !== undefined) return new Credential('basic', 'authorization', basicValue(input.basic));
  return undefined;
}

/** Builds a scope; `defaultHeader` is the API-key header when the input names none. */
export function buildScope(name: string, input: SchemeInput, defaultHeader: string): Scope {
  const apiKey = input.apiKey === undefined ? undefined : new Credential('apiKey', input.apiKeyHeader ?? defaultHeader, input.apiKey);
  return scopeOf(name, apiKey, authorizationCredential(input));
}

/** What `describe()` shows of a scope: which headers and schemes, never a secret. */
export function describeScope(scope: Scope): Record<string, string> {
  const out: Record<string, string> = {};
  if (scope.apiKey !== undefined) out.apiKey = `${scope.apiKey.header}${scope.apiKey.refreshable ? ' (getter)' : ''}`;
  if (scope.authorization !== undefined) out.authorization = `${scope.authorization.kind}${scope.authorization.refreshable ? ' (getter)' : ''}`;
  return out;
}
