import { endpointPatternProblem } from '@shallot/core';
import { z } from 'zod';

/** Returns the current token; called once, then again only to refresh it after a 401. */
export type TokenGetter = () => string | Promise<string>;

/** A token: a fixed string, or a getter that is asked for a fresh one when the server refuses it. */
export type TokenSource = string | TokenGetter;

/** Basic auth credentials (RFC 7617). */
export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** A token: a non-empty string or a getter. */
export const tokenSourceSchema = z.union([z.string().min(1), z.custom<TokenGetter>((v) => typeof v === 'function')], {
  message: 'expected a token (a non-empty string) or a function () => string | Promise<string>',
});

/** An HTTP header name. */
export const headerNameSchema = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected an HTTP header name');

/** Basic credentials; the user name may not contain a colon (RFC 7617). */
export const basicCredentialsSchema = z.strictObject({
  username: z.string().refine((u) => !u.includes(':'), 'a basic-auth user name cannot contain ":"'),
  password: z.string(),
});

const schemeShape = {
  /** An API key, sent in `apiKeyHeader`. */
  apiKey: tokenSourceSchema.optional().describe('An API key (a string, or a getter refreshed after a 401), sent in apiKeyHeader'),
  /** The header the API key goes in. @default 'X-API-Key' (the global one, for an endpoint) */
  apiKeyHeader: headerNameSchema.optional().describe("The header the API key goes in (default 'X-API-Key')"),
  /** A bearer token: `Authorization: Bearer <token>`. */
  bearer: tokenSourceSchema.optional().describe('A bearer token: Authorization: Bearer <token>'),
  /** An OAuth2 access token: `Authorization: Bearer <token>`. */
  oauth2: tokenSourceSchema.optional().describe('An OAuth2 access token: Authorization: Bearer <token>'),
  /** Basic auth: `Authorization: Basic base64(username:password)`. */
  basic: basicCredentialsSchema.optional().describe('Basic auth: Authorization: Basic base64(username:password)'),
};

function oneAuthorization(scheme: { bearer?: unknown; oauth2?: unknown; basic?: unknown }, ctx: z.RefinementCtx): void {
  const set = (['bearer', 'oauth2', 'basic'] as const).filter((k) => scheme[k] !== undefined);
  if (set.length > 1) {
    ctx.addIssue({ code: 'custom', path: [set[1] as string], message: `only one of bearer, oauth2 and basic may be set (they all go in Authorization); ${set.join(' and ')} are` });
  }
}

/** The credentials of one endpoint pattern (`auth({ endpoints })`). An empty object sends none. */
export const authSchemeSchema = z.strictObject(schemeShape).superRefine(oneAuthorization);

/** Options of `auth()`. */
export const authOptionsSchema = z
  .strictObject({
    ...schemeShape,
    apiKeyHeader: headerNameSchema.default('X-API-Key').describe("The header the API key goes in (default 'X-API-Key')"),
    /**
     * Credentials per endpoint pattern (`host`, `host:port`, `*.example.com` or a URL prefix),
     * instead of the global ones for the URLs they cover; the most specific pattern wins.
     */
    endpoints: z
      .record(z.string(), authSchemeSchema)
      .superRefine((endpoints, ctx) => {
        for (const pattern of Object.keys(endpoints)) {
          const problem = endpointPatternProblem(pattern);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [pattern], message: problem });
        }
      })
      .optional()
      .describe('Credentials per endpoint pattern, instead of the global ones; the most specific pattern wins'),
    /** Statuses that make a token getter refresh its token and the request be sent again once. @default [401] */
    refreshOnStatus: z.array(z.number().int().min(400).max(599)).default([401]).describe('Statuses that refresh a token getter and replay the request once'),
  })
  .superRefine(oneAuthorization);

/** What users pass to `auth()`. */
export type AuthOptions = z.input<typeof authOptionsSchema>;
/** {@link AuthOptions} as validated. */
export type ResolvedAuthOptions = z.output<typeof authOptionsSchema>;
/** The credentials of one scope (global, or one endpoint pattern). */
export type AuthScheme = z.input<typeof authSchemeSchema>;

/** What `setEndpointAuth` sets: the original's `auth_type`, or `none` for no credentials at all. */
export type AuthType = 'apiKey' | 'api_key' | 'bearer' | 'oauth2' | 'basic' | 'none';

/** The values of `setEndpointAuth(pattern, type, values)`, by type. */
export const endpointAuthValuesSchemas = {
  apiKey: z.union([tokenSourceSchema, z.strictObject({ apiKey: tokenSourceSchema, headerName: headerNameSchema.optional() })]),
  token: z.union([tokenSourceSchema, z.strictObject({ token: tokenSourceSchema })]),
  basic: basicCredentialsSchema,
} as const;

/** What `setEndpointAuth` takes as values: a token, or the original's keyword arguments as an object. */
export type EndpointAuthValues = TokenSource | { apiKey: TokenSource; headerName?: string } | { token: TokenSource } | BasicCredentials;
