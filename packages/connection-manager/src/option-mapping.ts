import type { AuthScheme, TokenSource } from '@shallot/auth';
import { InvalidOptionsError, isInvalidOptionsError, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import type { z } from 'zod';
import { authKeys, type endpointConfigSchema, endpointKeys, type EndpointSettings, type ResolvedConnectionManagerOptions } from './options.js';

type ParsedEndpointConfig = z.output<typeof endpointConfigSchema>;

/** The per-endpoint keys of the manager's options: the defaults every endpoint starts from. */
export function settingsOf(options: ResolvedConnectionManagerOptions): EndpointSettings {
  return Object.fromEntries(endpointKeys.map((key) => [key, options[key]])) as EndpointSettings;
}

/** The auth scheme of a config's credential keys, or `undefined` when it sets none. */
export function schemeOf(config: Partial<Record<(typeof authKeys)[number], unknown>>, defaultHeader?: string): AuthScheme | undefined {
  if (!authKeys.some((key) => config[key] !== undefined)) return undefined;
  const basic = config.basicAuth as ParsedEndpointConfig['basicAuth'];
  return {
    apiKey: config.apiKey as TokenSource | undefined,
    apiKeyHeader: (config.apiKeyHeader as string | undefined) ?? defaultHeader,
    bearer: config.bearerToken as TokenSource | undefined,
    oauth2: config.oauth2Token as TokenSource | undefined,
    basic: Array.isArray(basic) ? { username: basic[0], password: basic[1] } : basic,
  };
}

/** Runs `build`, naming `where` in an options error a layer raised (an unreadable certificate file). */
export function naming<T>(where: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (isInvalidOptionsError(error)) throw new InvalidOptionsError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The transport the options ask for, its pool sized by `poolMaxsize` and `poolConnections`. */
export function makeTransport(o: ResolvedConnectionManagerOptions): Transport {
  if (typeof o.transport === 'object') return o.transport;
  const pool = { maxSockets: o.poolMaxsize, maxOrigins: o.poolConnections, ...(o.keepAliveMs === undefined ? {} : { keepAliveMs: o.keepAliveMs }) };
  return o.transport === 'node-fetch' ? nodeFetchTransport(pool) : undiciTransport(pool);
}
