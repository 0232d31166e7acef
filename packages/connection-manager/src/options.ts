import { basicCredentialsSchema, headerNameSchema, tokenSourceSchema } from '@shallot/auth';
import { type BaseContext, endpointPatternProblem, type HeadersInput, type Logger, type Middleware, type Transport } from '@shallot/core';
import { tlsEndpointOptionsSchema } from '@shallot/mtls';
import { adaptiveOptionsSchema } from '@shallot/rate-limit';
import { requestIdOptionsSchema, tracingOptionsSchema } from '@shallot/tracing';
import { z } from 'zod';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `expected ${what}` });
const ms = z.number().positive().finite();

/** PEM text, a file path, or the bytes of a file. */
const material = z.union([z.string().min(1), z.custom<Uint8Array>((v) => v instanceof Uint8Array)], {
  message: 'expected a PEM string, a file path, or a Buffer',
});

/**
 * A client certificate, as the original's `cert`: one file holding both the certificate and the
 * key, `[cert, key]`, `[cert, key, passphrase]`, or `{ cert, key, passphrase? }`.
 */
export const clientCertificateSchema = z.union([
  material,
  z.tuple([material, material]),
  z.tuple([material, material, z.string()]),
  z.strictObject({ cert: material, key: material, passphrase: z.string().optional() }),
]);

/** Server verification: on (`true`), off (`false`), or a CA bundle to trust alone (PEM, file path or bytes). */
export const verifySchema = z.union([z.boolean(), material]);

/** Basic credentials: `{ username, password }` or the original's `[username, password]`. */
const basicAuthSchema = z.union([basicCredentialsSchema, z.tuple([z.string(), z.string()])]);

const rateLimitKeySchema = z.union([
  z.literal('global'),
  z.literal('host'),
  z.strictObject({ header: z.string().min(1) }),
  fn<(ctx: BaseContext) => string | undefined>("'global', 'host', { header } or a function (ctx) => string"),
]);

/**
 * The keys that take effect per endpoint: every one of them may be set at the top level (the
 * default for every request) and in an endpoint config (for the URLs its pattern covers).
 */
const endpointShape = {
  timeoutMs: ms.nullable().describe('Bound on the whole call in ms: every attempt, backoff wait and rate-limit wait included (the original\'s `timeout`, in seconds there); null: no bound. Default 30000.'),
  attemptTimeoutMs: ms.describe('Bound on each attempt in ms (unset: only timeoutMs bounds it).'),
  connectTimeoutMs: ms.describe('Bound on establishing each connection (TCP and TLS), in ms.'),
  readTimeoutMs: ms.describe('Bound on waiting for the response headers and on each gap while the body streams in, in ms.'),
  maxRetries: z.number().int().min(0).max(20).describe('Retries after the first attempt (3 means up to 4 attempts). POST and PATCH are retried only with an Idempotency-Key header. Default 3.'),
  backoffFactorMs: z.number().min(0).max(600_000).describe("Retry n waits backoffFactorMs * 2 ** (n - 1) ms (urllib3's formula, the original's backoff_factor in ms), or what Retry-After asks. Default 300."),
  backoffMaxMs: ms.describe("The longest backoff wait, in ms (urllib3's BACKOFF_MAX). Default 120000."),
  retryOnStatus: z.array(z.number().int().min(100).max(599)).describe('Response statuses that are retried. Default [429, 500, 502, 503, 504].'),
  rateLimitRequests: z.number().positive().finite().nullable().describe('Requests allowed per rateLimitPeriodMs (each attempt counts); null: no limit. Default 100.'),
  rateLimitPeriodMs: ms.describe('The period rateLimitRequests is counted over, in ms. Default 60000.'),
  rateLimitMode: z.enum(['wait', 'reject']).describe("'wait' queues a request until the limit lets it go (bounded by timeoutMs and rateLimitMaxWaitMs); 'reject' throws RateLimitExceededError at once. Default 'wait'."),
  rateLimitMaxWaitMs: z.number().min(0).describe('In wait mode, the longest a request waits for the rate limit; longer throws RateLimitExceededError.'),
  rateLimitKey: rateLimitKeySchema.describe("Which bucket a request draws from: 'global' (one per endpoint config), 'host', { header: 'X-User-ID' } (per user; requests without the header are not limited) or a function. Default 'global'."),
  rateLimitAdaptive: adaptiveOptionsSchema.describe('Adapt the limit to the upstream: cut it on 429 or slow responses, grow it back (see @shallot/rate-limit).'),
  circuitBreakerFailureThreshold: z.number().int().min(1).nullable().describe('Consecutive failures (network errors, timeouts, 5xx) that open a host\'s circuit; null: no breaker. Default 5.'),
  circuitBreakerRecoveryTimeoutMs: ms.describe('How long an open circuit refuses requests before letting a probe through, in ms. Default 60000.'),
  verify: verifySchema.describe('Verify the server certificate (true), do not (false), or trust this CA bundle alone (a PEM string or file path). Default true.'),
  cert: clientCertificateSchema.describe('Client certificate for mutual TLS: a file with both certificate and key, [cert, key], [cert, key, passphrase] or { cert, key, passphrase }.'),
  tls: tlsEndpointOptionsSchema.describe('Further TLS settings (ca, minVersion, maxVersion, ciphers, servername, pins...), as tls() of @shallot/mtls takes them.'),
  apiKey: tokenSourceSchema.describe('API key sent in apiKeyHeader: a string, or a getter called again after a 401.'),
  apiKeyHeader: headerNameSchema.describe("The header the API key goes in. Default 'X-API-Key'."),
  bearerToken: tokenSourceSchema.describe('Bearer token: Authorization: Bearer <token>; a string or a getter refreshed after a 401.'),
  oauth2Token: tokenSourceSchema.describe('OAuth2 access token: Authorization: Bearer <token>; a string or a getter refreshed after a 401.'),
  basicAuth: basicAuthSchema.describe('Basic auth: { username, password } or [username, password].'),
};

/** `wrapped` (an `.optional()` or `.default()` of `schema`) with `schema`'s description: zod keeps descriptions per schema instance. */
function keepDescription<T extends z.ZodType>(schema: z.ZodType, wrapped: T): T {
  return schema.description === undefined ? wrapped : wrapped.describe(schema.description);
}

/** The top-level shape, each per-endpoint key re-wrapped (with a default) keeping its description. */
function describedShape<S extends Record<string, z.ZodType>>(shape: S): S {
  const own = endpointShape as Record<string, z.ZodType>;
  return Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, own[key] === undefined ? schema : keepDescription(own[key], schema)])) as S;
}

function oneAuthorization(config: { bearerToken?: unknown; oauth2Token?: unknown; basicAuth?: unknown }, ctx: z.RefinementCtx): void {
  const set = (['bearerToken', 'oauth2Token', 'basicAuth'] as const).filter((k) => config[k] !== undefined);
  if (set.length > 1) {
    ctx.addIssue({ code: 'custom', path: [set[1] as string], message: `only one of bearerToken, oauth2Token and basicAuth may be set (they all go in Authorization); ${set.join(' and ')} are` });
  }
}

function apiKeyHeaderNeedsKey(config: { apiKey?: unknown; apiKeyHeader?: unknown }, ctx: z.RefinementCtx): void {
  if (config.apiKeyHeader !== undefined && config.apiKey === undefined) {
    ctx.addIssue({ code: 'custom', path: [], message: 'an endpoint config that sets apiKeyHeader must set apiKey too (its credentials replace the global ones)' });
  }
}

/**
 * One endpoint's settings (`endpointConfigs[pattern]`, `addEndpointConfig(pattern, config)`):
 * any key it sets replaces the manager's default for the URLs its pattern covers; the keys it
 * leaves out keep the defaults. The endpoint gets its own breaker, limiter, retry, timeouts, TLS
 * and credentials.
 */
export const endpointConfigSchema = z
  .strictObject(Object.fromEntries(Object.entries(endpointShape).map(([key, schema]) => [key, keepDescription(schema, schema.optional())])) as {
    [K in keyof typeof endpointShape]: z.ZodOptional<(typeof endpointShape)[K]>;
  })
  .superRefine(oneAuthorization)
  .superRefine(apiKeyHeaderNeedsKey);

const endpointConfigsSchema = z
  .record(z.string(), endpointConfigSchema)
  .superRefine((configs, ctx) => {
    for (const pattern of Object.keys(configs)) {
      const problem = endpointPatternProblem(pattern);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [pattern], message: problem });
    }
  });

/** The options of `new ConnectionManager(options)` and `ConnectionManager.fromConfig(json)`. */
export const connectionManagerOptionsSchema = z
  .strictObject(describedShape({
    poolConnections: z.number().int().min(1).default(10).describe('Origins whose connection pools are kept at once (requests\' pool_connections; the transport\'s maxOrigins). Default 10.'),
    poolMaxsize: z.number().int().min(1).default(10).describe('Connections per origin (requests\' pool_maxsize; the transport\'s maxSockets). Default 10.'),
    keepAliveMs: z.number().int().min(1).optional().describe('How long an idle keep-alive connection is kept, in ms (the transport\'s default when unset).'),
    transport: z
      .union([
        z.enum(['undici', 'node-fetch']),
        z.custom<Transport>((v) => isObject(v) && typeof v.send === 'function' && typeof v.close === 'function', {
          message: "expected 'undici', 'node-fetch' or a Transport",
        }),
      ])
      .default('undici')
      .describe("'undici' (the default, fastest) or 'node-fetch' (Node's http.Agent), or a Transport you built."),
    ...endpointShape,
    timeoutMs: endpointShape.timeoutMs.default(30_000),
    maxRetries: endpointShape.maxRetries.default(3),
    backoffFactorMs: endpointShape.backoffFactorMs.default(300),
    backoffMaxMs: endpointShape.backoffMaxMs.default(120_000),
    retryOnStatus: endpointShape.retryOnStatus.default([429, 500, 502, 503, 504]),
    rateLimitRequests: endpointShape.rateLimitRequests.default(100),
    rateLimitPeriodMs: endpointShape.rateLimitPeriodMs.default(60_000),
    rateLimitMode: endpointShape.rateLimitMode.default('wait'),
    rateLimitKey: endpointShape.rateLimitKey.default('global'),
    circuitBreakerFailureThreshold: endpointShape.circuitBreakerFailureThreshold.default(5),
    circuitBreakerRecoveryTimeoutMs: endpointShape.circuitBreakerRecoveryTimeoutMs.default(60_000),
    verify: endpointShape.verify.default(true),
    apiKeyHeader: endpointShape.apiKeyHeader.default('X-API-Key'),
    rateLimitMaxWaitMs: endpointShape.rateLimitMaxWaitMs.optional(),
    rateLimitAdaptive: endpointShape.rateLimitAdaptive.optional(),
    attemptTimeoutMs: endpointShape.attemptTimeoutMs.optional(),
    connectTimeoutMs: endpointShape.connectTimeoutMs.optional(),
    readTimeoutMs: endpointShape.readTimeoutMs.optional(),
    cert: endpointShape.cert.optional(),
    tls: endpointShape.tls.optional(),
    apiKey: endpointShape.apiKey.optional(),
    bearerToken: endpointShape.bearerToken.optional(),
    oauth2Token: endpointShape.oauth2Token.optional(),
    basicAuth: endpointShape.basicAuth.optional(),
    endpointConfigs: endpointConfigsSchema
      .default({})
      .describe('Settings per endpoint pattern (host, host:port, *.example.com or a URL prefix; the most specific wins, a query string never matches): any per-endpoint key.'),
    raiseForStatus: z.boolean().default(false).describe('Turn 4xx/5xx responses into HttpError, which error hooks see. Default false.'),
    maxHookRetries: z.number().int().min(0).max(10).default(1).describe('Re-sends per request when an error hook marks an error handled without a fallback response. Default 1.'),
    baseUrl: z.union([z.string().url(), z.instanceof(URL)]).optional().describe('Prefix for relative URLs.'),
    headers: z
      .custom<HeadersInput>((v) => isObject(v), { message: 'expected headers (an object, a Headers or a list of pairs)' })
      .optional()
      .describe('Headers sent with every request (a request\'s own win).'),
    logger: z
      .custom<Logger>((v) => isObject(v) && typeof v.debug === 'function' && typeof v.warn === 'function', { message: 'expected a pino-compatible logger' })
      .optional()
      .describe('A pino-compatible logger; everything logged through it is redacted (credentials in headers, URLs, JSON and text). Silent when unset.'),
    requestId: z.union([z.boolean(), requestIdOptionsSchema]).default(false).describe('Send an x-request-id header (true, or requestId() options). Default false.'),
    tracing: z.union([z.boolean(), tracingOptionsSchema]).default(false).describe('OpenTelemetry spans and metrics (true, or tracing() options). Default false.'),
    middlewares: z
      .array(z.custom<Middleware<any, any>>((v) => typeof v === 'function', { message: 'expected a middleware function' }))
      .default([])
      .describe('Your own layers, placed after the hooks and before the per-endpoint stack (a load balancer goes here).'),
  }))
  .superRefine(oneAuthorization);

/** What users pass to `new ConnectionManager()`. */
export type ConnectionManagerOptions = z.input<typeof connectionManagerOptionsSchema>;
/** {@link ConnectionManagerOptions} with defaults applied. */
export type ResolvedConnectionManagerOptions = z.output<typeof connectionManagerOptionsSchema>;
/** One endpoint's settings, as users write them. */
export type EndpointConfig = z.input<typeof endpointConfigSchema>;
/** The per-endpoint keys as they apply to one request's endpoint: the defaults with the endpoint's own keys over them. */
export type EndpointSettings = Pick<ResolvedConnectionManagerOptions, keyof typeof endpointShape>;

/** The names of the per-endpoint keys. */
export const endpointKeys = Object.keys(endpointShape) as (keyof EndpointSettings)[];

/** The keys of a config that are credentials (handed to the auth layer). */
export const authKeys = ['apiKey', 'apiKeyHeader', 'bearerToken', 'oauth2Token', 'basicAuth'] as const;
