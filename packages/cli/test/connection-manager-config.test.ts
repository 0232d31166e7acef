import {
  clientFromConfig,
  configFileJsonSchema,
  isConnectionManagerConfig,
  isStackConfigError,
  parseClientConfig,
  parseConnectionManagerConfig,
  type StackConfigError,
} from '@shallot/cli';
import { ConnectionManager } from '@shallot/connection-manager';
import { defineMiddleware, isInvalidOptionsError } from '@shallot/core';
import { createTestServer, failTimes } from '@shallot/testing';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { run, spawnBin, tempFiles } from './run-cli.js';

const { file } = tempFiles('shallot-cli-cm-');

function issuesOf(config: unknown): { path: string; message: string }[] {
  try {
    parseConnectionManagerConfig(config);
  } catch (error) {
    expect(isStackConfigError(error)).toBe(true);
    return (error as StackConfigError).issues.map((i) => ({ path: i.pathText, message: i.message }));
  }
  throw new Error('expected the config to be refused');
}

describe('shallot config validate on a ConnectionManager file (the built bin)', () => {
  it('accepts a good file and says what manager it describes', async () => {
    const path = file(
      'cm-good.json',
      `{
  "$schema": "./shallot.schema.json",
  // comments are allowed here too
  "connectionManager": {
    "maxRetries": 2,
    "backoffFactorMs": 100,
    "rateLimitRequests": null,
    "headers": { "user-agent": "my-service/1.0" },
    "endpointConfigs": { "api.example.com": { "timeoutMs": 10000, "rateLimitKey": { "header": "x-user" } } },
  },
}
`,
    );
    const result = await spawnBin(['config', 'validate', path], { NO_COLOR: '1' });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe(`valid: ${path}: ConnectionManager (maxRetries 2, timeoutMs 30000, 1 endpoint config) → undici\n`);
  });

  it('names the line, column and path of every problem, unknown keys included, and exits non-zero', async () => {
    const path = file(
      'cm-bad.json',
      `{
  "connectionManager": {
    "maxRetrys": 2,
    "timeoutMs": -5,
    "logger": "console",
    "endpointConfigs": {
      "api.example.com": { "rateLimitMode": "drop" }
    }
  },
  "middlewares": []
}
`,
    );
    const result = await spawnBin(['config', 'validate', path], { NO_COLOR: '1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')).toEqual([
      `${path}:3:5: connectionManager.maxRetrys: unknown option "maxRetrys" (did you mean "maxRetries"?)`,
      `${path}:4:5: connectionManager.timeoutMs: expected a number > 0, got -5`,
      `${path}:5:5: connectionManager.logger: "logger" takes a function or an object, which a config file cannot hold: set it in code`,
      `${path}:7:28: connectionManager.endpointConfigs["api.example.com"].rateLimitMode: expected one of "wait" | "reject", got "drop"`,
      `${path}:10:3: middlewares: unknown option "middlewares"; expected one of "$schema", "connectionManager"`,
      `5 problems in ${path}`,
      '',
    ]);
  });

  it('refuses a bad --config before sending anything, with the first problem on one line', async () => {
    const path = file('cm-unknown.json', '{ "connectionManager": { "retries": 2 } }');
    const result = await spawnBin(['get', 'http://127.0.0.1:1/', '--config', path], { NO_COLOR: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^shallot: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:26: connectionManager\\.retries: unknown option "retries"`));
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('ConnectionManager configs, validated', () => {
  it('is what ConnectionManager.fromConfig takes: the same problems refused, the same options accepted', () => {
    const bad = { maxRetries: 30, endpointConfigs: { 'https://api.example.com/v1?x': {} } };
    expect(issuesOf({ connectionManager: bad })).toEqual([
      { path: 'connectionManager.maxRetries', message: 'expected a number <= 20, got 30' },
      { path: 'connectionManager.endpointConfigs["https://api.example.com/v1?x"]', message: expect.stringMatching(/query/) },
    ]);
    expect(() => ConnectionManager.fromConfig(bad)).toThrow(/maxRetries/);
    const good = { maxRetries: 1, verify: false, basicAuth: ['user', 'pass'], rateLimitKey: 'host', endpointConfigs: { '*.example.com': { apiKey: 'k' } } };
    expect(parseConnectionManagerConfig({ connectionManager: good }).connectionManager).toMatchObject({ ...good, timeoutMs: 30_000, transport: 'undici' });
    expect(() => ConnectionManager.fromConfig(good).close()).not.toThrow();
  });

  it('keeps the refinements of the manager schema and says which options belong in code', () => {
    expect(issuesOf({ connectionManager: { bearerToken: 't', basicAuth: { username: 'u', password: 'p' } } })).toEqual([
      { path: 'connectionManager.basicAuth', message: expect.stringMatching(/^only one of bearerToken, oauth2Token and basicAuth may be set/) },
    ]);
    expect(issuesOf({ connectionManager: { middlewares: [] } })).toEqual([
      { path: 'connectionManager.middlewares', message: '"middlewares" takes a function or an object, which a config file cannot hold: set it in code' },
    ]);
    expect(issuesOf({ connectionManager: { headers: { 'bad header': 'x' } } })[0]?.path).toBe('connectionManager.headers["bad header"]');
    expect(issuesOf({ connectionManager: { transport: 'curl' } })).toEqual([{ path: 'connectionManager.transport', message: 'expected one of "undici" | "node-fetch", got "curl"' }]);
  });

  it('tells the two kinds apart by the connectionManager key', () => {
    expect(isConnectionManagerConfig({ connectionManager: {} })).toBe(true);
    expect(isConnectionManagerConfig({ middlewares: [] })).toBe(false);
    expect(parseClientConfig({ connectionManager: {} }).kind).toBe('connection-manager');
    expect(parseClientConfig({ middlewares: [{ use: 'retry' }] }).kind).toBe('stack');
  });
});

describe('clientFromConfig', () => {
  it('builds a ConnectionManager from its config: exchange() through its client, outer layers in its middlewares, close() closes it', async () => {
    await using upstream = await createTestServer();
    upstream.route('/flaky', failTimes(1));
    const stamp = defineMiddleware(
      async function stamp(ctx, next) {
        ctx.request.headers.set('x-outer', 'yes');
        return next();
      },
      { name: 'stamp' },
    );
    const configured = clientFromConfig({ connectionManager: { baseUrl: upstream.url, maxRetries: 2, backoffFactorMs: 1, headers: { 'x-from': 'config' } } }, { outer: [stamp] });
    expect(configured.kind).toBe('connection-manager');
    expect(configured.client.describe().map((l) => l.name)).toEqual(['hooks', 'stamp', 'metrics', 'endpoints', 'undici']);
    try {
      const { response, context } = await configured.client.exchange('GET', '/flaky');
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      expect(context.retry?.attempt).toBe(2);
      expect(upstream.hits('/flaky')).toBe(2);
      expect(upstream.requests('/flaky')[0]?.headers).toMatchObject({ 'x-outer': 'yes', 'x-from': 'config' });
      expect(configured.manager?.getStats().requestsMade).toBe(1);
    } finally {
      await configured.close();
    }
    expect(configured.manager?.closed).toBe(true);
  });

  it('builds a stack from a stack config, with no manager', async () => {
    const configured = clientFromConfig({ middlewares: [{ use: 'retry' }] });
    try {
      expect(configured.kind).toBe('stack');
      expect(configured.manager).toBeUndefined();
      expect(configured.client.describe().map((l) => l.name)).toEqual(['retry', 'undici']);
    } finally {
      await configured.close();
    }
    expect(configured.client.closed).toBe(true);
  });

  it('refuses what a manager has no place for, and a bad config with its paths', () => {
    const inner = defineMiddleware(async (_ctx, next) => next(), { name: 'inner' });
    let caught: unknown;
    try {
      clientFromConfig({ connectionManager: {} }, { inner: [inner] });
    } catch (error) {
      caught = error;
    }
    expect(isInvalidOptionsError(caught)).toBe(true);
    expect(String(caught)).toContain('clientFromConfig.inner');
    expect(() => clientFromConfig({ connectionManager: { maxRetries: -1 } })).toThrow(/connectionManager\.maxRetries: expected a number >= 0, got -1/);
  });
});

describe('shallot get|load --config on a ConnectionManager file', () => {
  it('get sends through the manager: the retry shows on the wire and in --verbose', async () => {
    await using upstream = await createTestServer();
    upstream.route('/flaky', failTimes(1, { json: { items: [1, 2] } }));
    const config = file('cm-get.json', JSON.stringify({ connectionManager: { baseUrl: upstream.url, maxRetries: 2, backoffFactorMs: 1, headers: { 'x-from': 'cm' }, apiKey: 'k3y' } }));
    const result = await run(['get', '/flaky', '--config', config, '-H', 'Authorization: Bearer t0k3n', '--verbose']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ items: [1, 2] });
    expect(upstream.hits('/flaky')).toBe(2);
    expect(upstream.requests('/flaky')[1]?.headers).toMatchObject({ 'x-from': 'cm', authorization: 'Bearer t0k3n', 'x-api-key': 'k3y' });
    const trace = result.stderr;
    expect(trace).toContain('* connection manager: hooks → metrics → endpoints → undici');
    expect(trace).toContain('*   endpoints[(default)]: timeout → auth → retry → rateLimit → circuitBreaker');
    expect(trace).toMatch(/\* attempt 1 at \+\d+ ms: 503/);
    expect(trace).toMatch(/\* attempt 2 at \+\d+ ms: 200/);
    expect(trace).toMatch(/retry: 2 attempts, waited \d+ ms/);
    expect(trace).toContain('* auth: global credentials');
    expect(trace).toContain('> authorization: [REDACTED]');
    expect(trace).toContain('> x-api-key: [REDACTED]');
    for (const secret of ['t0k3n', 'k3y']) expect(trace).not.toContain(secret);
  });

  it('load -n 50 -c 4 runs 50 requests through the manager and counts its retries', async () => {
    await using upstream = await createTestServer();
    upstream.route('/items', failTimes(1, { json: { items: [] } }));
    const config = file('cm-load.json', JSON.stringify({ connectionManager: { maxRetries: 2, backoffFactorMs: 1 } }));
    const result = await run(['load', `${upstream.url}/items`, '-n', '50', '-c', '4', '--config', config, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ method: 'GET', completed: 50, errors: 0, concurrency: 4, statuses: { 200: 50 }, stoppedBy: 'count' });
    expect(summary.layers).toMatchObject({ retried: 1, extraAttempts: 1, breakerOpened: 0 });
    expect(upstream.hits('/items')).toBe(51);
  });
});

describe('shallot config schema', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });

  it("prints one JSON Schema for both kinds of file, with the connection manager's options", async () => {
    const result = await run(['config', 'schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema).toEqual(configFileJsonSchema());
    expect(schema.properties.middlewares.type).toBe('array');
    expect(schema.properties.connectionManager).toEqual({ $ref: '#/$defs/connectionManagerOptions' });
    const options = schema.$defs.connectionManagerOptions;
    expect(options.additionalProperties).toBe(false);
    for (const name of ['maxRetries', 'backoffFactorMs', 'timeoutMs', 'rateLimitRequests', 'circuitBreakerFailureThreshold', 'endpointConfigs', 'poolMaxsize', 'headers']) {
      expect(options.properties, name).toHaveProperty(name);
    }
    expect(options.properties.maxRetries).toMatchObject({ type: 'integer', default: 3, maximum: 20 });
    expect(options.properties.maxRetries.description).toMatch(/Retries after the first attempt/);
    expect(options.properties).not.toHaveProperty('logger');
    expect(options.properties).not.toHaveProperty('middlewares');

    const validate = ajv.compile(schema);
    const accepts = (value: unknown): boolean => validate(value) === true;
    expect(accepts({ transport: 'undici', middlewares: [{ use: 'retry', maxAttempts: 3 }] })).toBe(true);
    expect(accepts({ $schema: './s.json', connectionManager: { maxRetries: 2, endpointConfigs: { 'api.example.com': { timeoutMs: 1000 } } } })).toBe(true);
    expect(accepts({ connectionManager: { maxRetries: 2 }, middlewares: [] })).toBe(false);
    expect(accepts({ connectionManager: { maxRetrys: 2 } })).toBe(false);
    expect(accepts({ connectionManager: { maxRetries: 21 } })).toBe(false);
    expect(accepts({ middlewares: [{ use: 'retry', maxAttempts: 0 }] })).toBe(false);
  });

  it('prints one kind alone with --kind', async () => {
    const manager = await run(['config', 'schema', '--kind', 'connection-manager']);
    expect(manager.code).toBe(0);
    const schema = JSON.parse(manager.stdout);
    expect(schema.title).toBe('shallot ConnectionManager config');
    expect(schema.required).toEqual(['connectionManager']);
    expect(schema.properties.connectionManager.properties.endpointConfigs.type).toBe('object');
    expect(ajv.compile(schema)({ connectionManager: { timeoutMs: 1000 } })).toBe(true);
    const stack = JSON.parse((await run(['config', 'schema', '--kind', 'stack'])).stdout);
    expect(stack.title).toBe('shallot stack config');
    expect(stack.properties).not.toHaveProperty('connectionManager');
    const wrong = await run(['config', 'schema', '--kind', 'pipeline']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Allowed choices are any, stack, connection-manager/);
  });
});
