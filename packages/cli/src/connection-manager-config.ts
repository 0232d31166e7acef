import { ConnectionManager, type ConnectionManagerOptions, connectionManagerOptionsSchema } from '@shallot/connection-manager';
import { z } from 'zod';
import { configIssues } from './config-issues.js';
import { headersConfigSchema } from './config-schema.js';
import { jsonOnly, objectShape, withShape } from './json-only.js';
import { StackConfigError } from './stack-from-config.js';

/**
 * The options of a `ConnectionManager` as a JSON file writes them: every option of
 * `connectionManagerOptionsSchema` that JSON can hold (durations in ms), `transport` as a name,
 * `headers` as names to values. `logger`, `middlewares`, a `Transport` object and token getters
 * are set in code.
 */
export type ConnectionManagerJsonOptions = Omit<ConnectionManagerOptions, 'transport' | 'headers' | 'baseUrl' | 'logger' | 'middlewares'> & {
  /** `"undici"` (default) or `"node-fetch"`. @default 'undici' */
  transport?: 'undici' | 'node-fetch' | undefined;
  /** Prefix for relative URLs. */
  baseUrl?: string | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
};

/**
 * A ConnectionManager config file: `{ "connectionManager": { ...options } }`, the options
 * `ConnectionManager.fromConfig()` takes.
 *
 * @example
 * const config: ConnectionManagerConfig = {
 *   connectionManager: { maxRetries: 2, backoffFactorMs: 100, endpointConfigs: { 'api.example.com': { timeoutMs: 5_000 } } },
 * };
 */
export interface ConnectionManagerConfig {
  /** Where editors find the JSON Schema (`shallot config schema > shallot.schema.json`). */
  $schema?: string | undefined;
  /** The manager's options. */
  connectionManager: ConnectionManagerJsonOptions;
}

// The manager's own schema less what JSON cannot hold, in its own order; `headers` (any
// HeadersInput there) as a record, which is all JSON can write.
function jsonOptionsSchema(): z.ZodType {
  const full = objectShape(connectionManagerOptionsSchema);
  const json = jsonOnly(connectionManagerOptionsSchema);
  const kept = json === undefined ? undefined : objectShape(json);
  if (full === undefined || json === undefined || kept === undefined) throw new Error('@shallot/cli: connectionManagerOptionsSchema is not an object schema');
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(full)) {
    if (key === 'headers') shape.headers = headersConfigSchema.optional().describe(field.description ?? 'Headers sent with every request.');
    else if (kept[key] !== undefined) shape[key] = kept[key];
  }
  return withShape(json, shape) as z.ZodType;
}

const schemaField = z.string().optional().describe('Where editors find the JSON Schema (`shallot config schema > shallot.schema.json`).');

/**
 * The zod schema of a ConnectionManager config file: `$schema` and `connectionManager`, whose
 * options are validated by `connectionManagerOptionsSchema` (the schema `new ConnectionManager()`
 * and `ConnectionManager.fromConfig()` validate with) less the fields JSON cannot hold. Unknown
 * keys are refused at every level.
 */
export const connectionManagerConfigSchema: z.ZodType<ConnectionManagerConfig> = z.strictObject({
  $schema: schemaField,
  connectionManager: jsonOptionsSchema().describe('The options of new ConnectionManager(options), as ConnectionManager.fromConfig() takes them.'),
}) as unknown as z.ZodType<ConnectionManagerConfig>;

// The same with the manager's whole schema: a key only code can set is reported as such.
const codeSchema = z.strictObject({ $schema: schemaField, connectionManager: connectionManagerOptionsSchema });

/** True when `value` is a ConnectionManager config (an object with a `connectionManager` key), not a stack config. */
export function isConnectionManagerConfig(value: unknown): value is ConnectionManagerConfig {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.hasOwn(value, 'connectionManager');
}

/**
 * Validates a ConnectionManager config (a parsed JSON value) against
 * {@link connectionManagerConfigSchema}, and returns it with the defaults filled in.
 *
 * @param source - what to call the config in the message (a file name)
 * @throws StackConfigError naming the path and the problem of every bad value, as for a stack config
 */
export function parseConnectionManagerConfig(input: unknown, source?: string): ConnectionManagerConfig {
  const result = connectionManagerConfigSchema.safeParse(input);
  if (result.success) return result.data;
  throw new StackConfigError(configIssues(result.error.issues, connectionManagerConfigSchema, input, codeSchema), { cause: result.error, source });
}

/** What a program may add to a ConnectionManager config: the options JSON cannot hold. */
export type ConnectionManagerFromConfigOptions = Pick<ConnectionManagerOptions, 'logger' | 'middlewares' | 'transport'>;

/**
 * Builds the `ConnectionManager` a config describes: `new ConnectionManager({ ...config.connectionManager, ...options })`,
 * after validating the config as a file is validated (so its problems come with their paths).
 *
 * @throws StackConfigError naming the path and the problem of every bad value
 * @example
 * const manager = connectionManagerFromConfig({ connectionManager: { maxRetries: 2, timeoutMs: 10_000 } });
 * try {
 *   await manager.get('https://api.example.com/items');
 * } finally {
 *   await manager.close();
 * }
 */
export function connectionManagerFromConfig(config: ConnectionManagerConfig, options: ConnectionManagerFromConfigOptions = {}): ConnectionManager {
  parseConnectionManagerConfig(config);
  const extra = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  return new ConnectionManager({ ...(config.connectionManager as ConnectionManagerOptions), ...extra });
}
