import {
  type Client,
  type ClientOptions,
  compose,
  InvalidOptionsError,
  type Middleware,
  nodeFetchTransport,
  type Transport,
  undiciTransport,
} from '@shallot/core';
import { type ConfigIssue, configIssues } from './config-issues.js';
import { type MiddlewareConfig, type StackConfig, stackConfigSchema } from './config-schema.js';
import { type RegisteredMiddleware, registeredMiddleware } from './registry.js';

/** A config that failed validation: `issues` has one entry per problem, each with its path. */
export class StackConfigError extends InvalidOptionsError {
  /** Every problem found, in document order of the paths zod reported. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: { cause?: unknown; source?: string | undefined } = {}) {
    const where = options.source ?? 'config';
    const list = issues.map((i) => `${i.pathText}: ${i.message}`).join('; ');
    super(`${where}: ${issues.length === 1 ? '' : `${issues.length} problems: `}${list}`, { cause: options.cause });
    this.name = 'StackConfigError';
    this.issues = issues;
  }
}

/** True for a {@link StackConfigError} (from any installed copy). */
export function isStackConfigError(error: unknown): error is StackConfigError {
  return error instanceof Error && (error as { code?: unknown }).code === 'ERR_INVALID_OPTIONS' && Array.isArray((error as { issues?: unknown }).issues);
}

/** A config as validated: defaults filled in. */
export type ResolvedStackConfig = StackConfig & { transport: NonNullable<StackConfig['transport']>; middlewares: MiddlewareConfig[] };

/**
 * Validates a stack config (a parsed JSON value) against {@link stackConfigSchema}.
 *
 * @param source - what to call the config in the message (a file name)
 * @throws StackConfigError naming the path and the problem of every bad value
 */
export function parseStackConfig(input: unknown, source?: string): ResolvedStackConfig {
  const schema = stackConfigSchema;
  const result = schema.safeParse(input);
  if (result.success) return result.data as ResolvedStackConfig;
  throw new StackConfigError(configIssues(result.error.issues, schema, input), { cause: result.error, source });
}

// Both below take a config that passed validation, as written (each factory validates its own options again).
function layersOf(config: StackConfig): Middleware<any, any>[] {
  return (config.middlewares ?? []).map((entry) => {
    const { use, ...options } = entry;
    return (registeredMiddleware(use) as RegisteredMiddleware).factory(options);
  });
}

function transportOf(config: StackConfig): Transport {
  const spec = config.transport ?? 'undici';
  if (typeof spec === 'string') return spec === 'node-fetch' ? nodeFetchTransport() : undiciTransport();
  const { kind, ...options } = spec;
  return kind === 'node-fetch' ? nodeFetchTransport(options) : undiciTransport(options);
}

/** The middlewares a config lists, outermost first, each made by its registered factory. */
export function middlewaresFromConfig(config: StackConfig): Middleware<any, any>[] {
  parseStackConfig(config);
  return layersOf(config);
}

/** The transport a config names (`undiciTransport()` when it names none). */
export function transportFromConfig(config: StackConfig): Transport {
  parseStackConfig(config);
  return transportOf(config);
}

/** What a program may add to a config: the things JSON cannot hold. */
export type StackFromConfigOptions = Pick<ClientOptions, 'logger' | 'clock' | 'transport'> & {
  /** Middlewares added outside the configured ones (outermost first). */
  outer?: readonly Middleware<any, any>[];
  /** Middlewares added inside the configured ones, next to the transport. */
  inner?: readonly Middleware<any, any>[];
  /** Called with each middleware made from the config and its entry: to subscribe to its events (`onRetry`, `onStateChange`). */
  onMiddleware?: (middleware: Middleware<any, any>, entry: MiddlewareConfig) => void;
};

/**
 * Builds a client from a stack config, as a JSON file writes it:
 * `{ "transport": "undici", "baseUrl": ..., "middlewares": [{ "use": "retry", "maxAttempts": 3 }] }`.
 * Every middleware is made by its registered factory (the built-in ones, and any a plugin
 * registered with `registerMiddleware`), outermost first.
 *
 * @throws StackConfigError naming the path and the problem of every bad value
 * @example
 * const client = stackFromConfig({
 *   baseUrl: 'https://api.example.com',
 *   middlewares: [{ use: 'timeout', totalMs: 10_000 }, { use: 'retry', maxAttempts: 3 }],
 * });
 */
export function stackFromConfig(config: StackConfig, options: StackFromConfigOptions = {}): Client<any> {
  const resolved = parseStackConfig(config);
  let builder = compose() as ReturnType<typeof compose>;
  const made = layersOf(config);
  if (options.onMiddleware !== undefined) made.forEach((m, i) => options.onMiddleware?.(m, (config.middlewares as MiddlewareConfig[])[i] as MiddlewareConfig));
  const layers = [...(options.outer ?? []), ...made, ...(options.inner ?? [])];
  for (const layer of layers) builder = builder.use(layer as Middleware);
  const { transport: _t, middlewares: _m, plugins: _p, $schema: _s, ...client } = resolved;
  const { logger, clock } = options;
  return builder.build({
    ...(client as ClientOptions),
    transport: options.transport ?? transportOf(config),
    ...(logger === undefined ? {} : { logger }),
    ...(clock === undefined ? {} : { clock }),
  });
}
