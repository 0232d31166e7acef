import { clientOptionsSchema, nodeFetchTransportOptionsSchema, undiciTransportOptionsSchema } from '@shallot/core';
import { z } from 'zod';
import { builtinMiddlewares } from './builtins.js';
import { jsonOnly, objectShape, withLeadingFields } from './json-only.js';
import { onRegistryChange, registeredMiddleware, registeredMiddlewares, registerMiddleware } from './registry.js';

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`@shallot/cli: ${what} has nothing a JSON file can hold`);
  return value;
}

/** The names `transport` takes. */
export type TransportKind = 'undici' | 'node-fetch';

const transportKinds: Record<TransportKind, z.ZodType> = {
  undici: undiciTransportOptionsSchema,
  'node-fetch': nodeFetchTransportOptionsSchema,
};

/** `transport` as a config file writes it. */
export type TransportConfig = TransportKind | ({ kind: TransportKind } & Record<string, unknown>);

/**
 * `transport`: a name (`"undici"`, the default, or `"node-fetch"`), or `{ "kind": name, ...options }`
 * with the transport's options (`maxSockets`, `keepAliveMs`, `connectTimeoutMs`...).
 */
export const transportConfigSchema: z.ZodType<TransportConfig> = z.union([
  z.enum(['undici', 'node-fetch']),
  z.discriminatedUnion(
    'kind',
    Object.entries(transportKinds).map(([kind, schema]) =>
      required(withLeadingFields(required(jsonOnly(schema), `${kind}'s options`), { kind: z.literal(kind) }), kind),
    ) as [z.ZodObject, ...z.ZodObject[]],
  ),
]) as unknown as z.ZodType<TransportConfig>;

// The client options of `build()` that JSON can hold; the transport is configured above.
const clientShape = (() => {
  const shape = { ...required(objectShape(required(jsonOnly(clientOptionsSchema), 'build() options')), 'build() options') };
  delete shape.transport;
  return shape;
})();

/** `headers` in a config file: names to values. */
export const headersConfigSchema = z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'expected a header name'), z.string());

function middlewareEntries(): z.ZodType {
  const entries = registeredMiddlewares().map((m) =>
    required(withLeadingFields(m.jsonSchema, { use: z.literal(m.name) }), `${m.name}'s options (not an object schema)`),
  );
  return z.discriminatedUnion('use', entries as [z.ZodObject, ...z.ZodObject[]]);
}

function build(): z.ZodType<StackConfig> {
  return z.strictObject({
    /** Where editors find the JSON Schema (`shallot config schema > stack.schema.json`). */
    $schema: z.string().optional(),
    /** Modules the CLI imports before reading the rest, so their middlewares register themselves. */
    plugins: z.array(z.string().min(1)).optional(),
    transport: transportConfigSchema.default('undici'),
    ...clientShape,
    headers: headersConfigSchema.optional(),
    /** The layers, outermost first, as `.use()` adds them. */
    middlewares: z.array(middlewareEntries()).default([]),
  }) as unknown as z.ZodType<StackConfig>;
}

/** One entry of `middlewares`: the middleware's name and its options. */
export interface MiddlewareConfig {
  /** The registered name: `retry`, `timeout`, `circuitBreaker`... */
  use: string;
  [option: string]: unknown;
}

/** A stack as a config file writes it. */
export interface StackConfig {
  $schema?: string | undefined;
  /** Modules the CLI imports first, so that the middlewares they register can be used. */
  plugins?: string[] | undefined;
  /** `"undici"` (default), `"node-fetch"`, or `{ "kind": ..., ...transport options }`. @default 'undici' */
  transport?: TransportConfig | undefined;
  /** Prefix for relative URLs. */
  baseUrl?: string | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
  /** A `total` timeout for every request, in milliseconds. */
  timeoutMs?: number | undefined;
  /** Turn 4xx/5xx responses into `HttpError`. @default false */
  throwHttpErrors?: boolean | undefined;
  /** Follow redirects from https to http. @default false */
  allowInsecureRedirect?: boolean | undefined;
  /** Header names that carry credentials, on top of the built-in list. */
  credentialHeaders?: string[] | undefined;
  /** The layers, outermost first. @default [] */
  middlewares?: MiddlewareConfig[] | undefined;
  [option: string]: unknown;
}

// Another installed copy of this package may have registered them in the shared registry already.
for (const registration of builtinMiddlewares) if (registeredMiddleware(registration.name) === undefined) registerMiddleware(registration);

/**
 * The zod schema of a stack config file: `transport`, the client options JSON can hold
 * (`baseUrl`, `headers`, `timeoutMs`...) and `middlewares`, each `{ "use": name, ...options }`
 * validated by that middleware's own options schema (less the fields JSON cannot hold). It is
 * rebuilt whenever `registerMiddleware()` adds a middleware, so this binding always covers
 * every registered one. `z.toJSONSchema(stackConfigSchema, { io: 'input' })` gives the JSON
 * Schema.
 */
export let stackConfigSchema: z.ZodType<StackConfig> = build();

onRegistryChange(() => {
  stackConfigSchema = build();
});
