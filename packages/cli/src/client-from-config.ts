import type { ConnectionManager } from '@shallot/connection-manager';
import { type Client, InvalidOptionsError } from '@shallot/core';
import type { StackConfig } from './config-schema.js';
import { type ConnectionManagerConfig, connectionManagerFromConfig, isConnectionManagerConfig, parseConnectionManagerConfig } from './connection-manager-config.js';
import { parseStackConfig, type ResolvedStackConfig, stackFromConfig, type StackFromConfigOptions } from './stack-from-config.js';

/** Either kind of config file: a stack (`{ transport, middlewares }`) or a ConnectionManager (`{ connectionManager }`). */
export type ClientConfig = StackConfig | ConnectionManagerConfig;

/** Which kind a config is. */
export type ClientConfigKind = 'stack' | 'connection-manager';

/** A config as validated, with its kind. */
export type ParsedClientConfig = { kind: 'stack'; config: ResolvedStackConfig } | { kind: 'connection-manager'; config: ConnectionManagerConfig };

/**
 * Validates either kind of config (a parsed JSON value): one with a `connectionManager` key
 * against `connectionManagerConfigSchema`, any other against `stackConfigSchema`.
 *
 * @param source - what to call the config in the message (a file name)
 * @throws StackConfigError naming the path and the problem of every bad value
 */
export function parseClientConfig(input: unknown, source?: string): ParsedClientConfig {
  return isConnectionManagerConfig(input)
    ? { kind: 'connection-manager', config: parseConnectionManagerConfig(input, source) }
    : { kind: 'stack', config: parseStackConfig(input, source) };
}

/**
 * What a program may add to either kind of config. With a ConnectionManager config, `outer`
 * goes in the manager's `middlewares` option (inside its hooks, outside its per-endpoint
 * stacks), `logger` and `transport` are the manager's; `onMiddleware` is for a stack's entries
 * only (a manager's breakers are heard through `manager.onCircuitBreakerStateChange()`), and
 * `inner` and `clock` have no place in a manager, so they are refused.
 */
export type ClientFromConfigOptions = StackFromConfigOptions;

/** A client built from a config, and what closes it. */
export interface ConfiguredClient {
  /** The kind of config it was built from. */
  readonly kind: ClientConfigKind;
  /** Where requests go: `exchange()`, `request()`, `get()`... (a manager's `client`). */
  readonly client: Client<any>;
  /** The manager, for a ConnectionManager config (`getStats()`, `onCircuitBreakerStateChange()`). */
  readonly manager: ConnectionManager | undefined;
  /** Closes the client (or the manager, with its layers and pools). */
  close(): Promise<void>;
}

/**
 * Builds the client either kind of config describes: a stack config through
 * `stackFromConfig()`, a ConnectionManager config (`{ "connectionManager": { ... } }`) through
 * `new ConnectionManager()`. Either way the result has the `client` to send with and `close()`.
 *
 * @throws StackConfigError naming the path and the problem of every bad value
 * @throws InvalidOptionsError for `inner` or `clock` with a ConnectionManager config
 * @example
 * const { client, close } = clientFromConfig(JSON.parse(await readFile('shallot.json', 'utf8')));
 * try {
 *   const { response, context } = await client.exchange('GET', 'https://api.example.com/items');
 * } finally {
 *   await close();
 * }
 */
export function clientFromConfig(config: ClientConfig, options: ClientFromConfigOptions = {}): ConfiguredClient {
  if (!isConnectionManagerConfig(config)) {
    const client = stackFromConfig(config, options);
    return { kind: 'stack', client, manager: undefined, close: () => client.close() };
  }
  for (const key of ['inner', 'clock'] as const) {
    if (options[key] !== undefined) throw new InvalidOptionsError(`clientFromConfig.${key}: a ConnectionManager config cannot take it (its layers next to the transport and its clock are its own)`);
  }
  const manager = connectionManagerFromConfig(config, {
    ...(options.outer === undefined ? {} : { middlewares: [...options.outer] }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
  });
  return { kind: 'connection-manager', client: manager.client, manager, close: () => manager.close() };
}
