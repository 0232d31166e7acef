import { ConnectionManager, connectionManagerOptionsSchema, endpointConfigSchema, type InvalidOptionsError, isInvalidOptionsError } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { hostOf, thrown } from './helpers.js';

const messageOf = (fn: () => unknown): string => {
  const error = thrown(fn);
  expect(isInvalidOptionsError(error)).toBe(true);
  return (error as InvalidOptionsError).message;
};

describe('ConnectionManager options', () => {
  it('defaults are the original’s, in milliseconds', () => {
    const resolved = connectionManagerOptionsSchema.parse({});
    expect(resolved).toMatchObject({
      poolConnections: 10,
      poolMaxsize: 10,
      maxRetries: 3,
      backoffFactorMs: 300,
      rateLimitRequests: 100,
      rateLimitPeriodMs: 60_000,
      circuitBreakerFailureThreshold: 5,
      circuitBreakerRecoveryTimeoutMs: 60_000,
      timeoutMs: 30_000,
      apiKeyHeader: 'X-API-Key',
      verify: true,
      raiseForStatus: false,
      transport: 'undici',
      maxHookRetries: 1,
      endpointConfigs: {},
    });
  });

  it('timeoutMs: null means no total bound (requests\' timeout=None): the stack has no timeout layer', async () => {
    await using manager = new ConnectionManager({ timeoutMs: null });
    const stacks = (manager.describe().find((l) => l.name === 'endpoints')?.options as { stacks: Record<string, { name: string }[]> }).stacks;
    expect(stacks['(default)']?.map((l) => l.name)).toEqual(['auth', 'retry', 'rateLimit', 'circuitBreaker']);
  });

  it('unknown keys and bad values are errors naming their path, at the top level and per endpoint', () => {
    expect(messageOf(() => new ConnectionManager({ timeout: 30 } as never))).toBe("ConnectionManager: unknown option 'timeout'");
    expect(messageOf(() => new ConnectionManager({ maxRetries: -1 }))).toBe('ConnectionManager.maxRetries: expected a number >= 0, got -1');
    expect(messageOf(() => new ConnectionManager({ endpointConfigs: { 'api.example.com': { timeout: 10 } as never } }))).toBe(
      "ConnectionManager.endpointConfigs.api.example.com: unknown option 'timeout'",
    );
    expect(messageOf(() => new ConnectionManager({ endpointConfigs: { 'example.com/?x=1': {} } }))).toMatch(/^ConnectionManager\.endpointConfigs\.example\.com\/\?x=1: .*never the query/);
    expect(messageOf(() => new ConnectionManager({ bearerToken: 't', basicAuth: ['u', 'p'] }))).toMatch(/^ConnectionManager\.basicAuth: only one of bearerToken, oauth2Token and basicAuth/);
    expect(messageOf(() => new ConnectionManager({ endpointConfigs: { 'a.example': { apiKeyHeader: 'X-Key' } } }))).toMatch(/^ConnectionManager\.endpointConfigs\.a\.example: an endpoint config that sets apiKeyHeader must set apiKey too/);
    expect(messageOf(() => new ConnectionManager({ transport: 'fetch' as never }))).toMatch(/^ConnectionManager\.transport: /);
  });

  it('fromConfig takes the same options as JSON (a string or a parsed object)', async () => {
    await using server = await createTestServer();
    server.route('/flaky', [{ status: 503 }, { body: 'ok' }]);
    const json = JSON.stringify({ maxRetries: 1, backoffFactorMs: 1, endpointConfigs: { [hostOf(server)]: { rateLimitRequests: 5, rateLimitPeriodMs: 1000 } } });
    await using manager = ConnectionManager.fromConfig(json);
    expect(await (await manager.get(`${server.url}/flaky`)).text()).toBe('ok');
    expect(manager.getEndpointConfigs()).toEqual({ [hostOf(server)]: { rateLimitRequests: 5, rateLimitPeriodMs: 1000 } });
    await using fromObject = ConnectionManager.fromConfig(JSON.parse(json) as Record<string, unknown>);
    expect(fromObject.getStats().rateLimits[hostOf(server)]).toMatchObject({ limit: 5, intervalMs: 1000 });
  });

  it('fromConfig refuses bad JSON, non-objects and unknown keys, naming the path', () => {
    expect(messageOf(() => ConnectionManager.fromConfig('{ "maxRetries": '))).toMatch(/^ConnectionManager\.fromConfig: not valid JSON/);
    expect(messageOf(() => ConnectionManager.fromConfig('[1]'))).toBe('ConnectionManager.fromConfig: expected a JSON object of options, got an array');
    expect(messageOf(() => ConnectionManager.fromConfig('{"endpointConfigs":{"api.example.com":{"rateLimitPeriod":60}}}'))).toBe(
      "ConnectionManager.endpointConfigs.api.example.com: unknown option 'rateLimitPeriod'",
    );
    expect(messageOf(() => ConnectionManager.fromConfig('{"timeoutMs":"30"}'))).toBe('ConnectionManager.timeoutMs: expected a number, got "30"');
  });

  it('every option, top level and per endpoint, has a description (configuration docs are generated from them)', () => {
    const undescribed = (schema: z.ZodObject) =>
      Object.entries(schema.shape)
        .filter(([, value]) => typeof (value as z.ZodType).description !== 'string' || (value as z.ZodType).description === '')
        .map(([key]) => key);
    expect(undescribed(connectionManagerOptionsSchema as unknown as z.ZodObject)).toEqual([]);
    expect(undescribed(endpointConfigSchema as unknown as z.ZodObject)).toEqual([]);
    expect(Object.keys(endpointConfigSchema.shape)).toEqual(
      expect.arrayContaining(['timeoutMs', 'connectTimeoutMs', 'readTimeoutMs', 'maxRetries', 'backoffFactorMs', 'rateLimitRequests', 'rateLimitPeriodMs', 'circuitBreakerFailureThreshold', 'circuitBreakerRecoveryTimeoutMs', 'verify', 'cert', 'tls', 'apiKey', 'bearerToken', 'oauth2Token', 'basicAuth']),
    );
  });

  it('a TLS file that cannot be read fails at construction, naming the endpoint', () => {
    expect(messageOf(() => new ConnectionManager({ endpointConfigs: { 'secure.example.com': { cert: ['/nonexistent/client.crt', '/nonexistent/client.key'] } } }))).toMatch(
      /^ConnectionManager\.endpointConfigs\.secure\.example\.com: tls\.cert: /,
    );
  });
});
