import {
  isStackConfigError,
  parseStackConfig,
  registeredMiddlewares,
  registerMiddleware,
  type StackConfigError,
  stackConfigJsonSchema,
  stackConfigSchema,
  stackFromConfig,
} from '@shallot/cli';
import { defineMiddleware, isInvalidOptionsError, parseOptions } from '@shallot/core';
import { createTestServer, failTimes } from '@shallot/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';

function issuesOf(config: unknown): { path: string; message: string }[] {
  try {
    parseStackConfig(config);
  } catch (error) {
    expect(isStackConfigError(error)).toBe(true);
    return (error as StackConfigError).issues.map((i) => ({ path: i.pathText, message: i.message }));
  }
  throw new Error('expected the config to be refused');
}

describe('stackFromConfig', () => {
  it('builds the stack a config lists, outermost first, around the transport it names', async () => {
    await using upstream = await createTestServer();
    upstream.route('/flaky', failTimes(2));
    for (const transport of ['undici', 'node-fetch'] as const) {
      upstream.reset();
      const client = stackFromConfig({
        transport,
        baseUrl: upstream.url,
        headers: { 'x-from': 'config' },
        middlewares: [
          { use: 'timeout', totalMs: 5_000 },
          { use: 'retry', maxAttempts: 3, backoff: { kind: 'constant', delayMs: 1 } },
        ],
      });
      try {
        const response = await client.get('/flaky');
        expect(response.status).toBe(200);
        expect(upstream.hits('/flaky')).toBe(3);
        expect(upstream.requests('/flaky')[0]?.headers['x-from']).toBe('config');
        expect(client.describe().map((l) => l.name)).toEqual(['timeout', 'retry', transport]);
      } finally {
        await client.close();
      }
    }
  });

  it('takes transport options as { kind, ...options }', async () => {
    const client = stackFromConfig({ transport: { kind: 'undici', maxSockets: 3, keepAliveMs: 1_000 } });
    try {
      expect(client.describe().at(-1)).toMatchObject({ name: 'undici', options: { maxSockets: 3, keepAliveMs: 1_000 } });
    } finally {
      await client.close();
    }
  });

  it('hands each middleware it makes to onMiddleware, to subscribe to its events', async () => {
    await using upstream = await createTestServer();
    upstream.route('/flaky', failTimes(1));
    const retries: number[] = [];
    const client = stackFromConfig(
      { baseUrl: upstream.url, middlewares: [{ use: 'retry', backoff: { kind: 'constant', delayMs: 1 } }] },
      {
        onMiddleware: (middleware, entry) => {
          expect(entry.use).toBe('retry');
          (middleware as unknown as { onRetry(l: (e: { attempt: number }) => void): void }).onRetry((e) => retries.push(e.attempt));
        },
      },
    );
    try {
      await client.get('/flaky');
      expect(retries).toEqual([1]);
    } finally {
      await client.close();
    }
  });
});

describe('config validation', () => {
  it('names the path and the problem of every bad value', () => {
    expect(issuesOf({ middlewares: [{ use: 'retry', maxAttempts: 0 }, { use: 'rateLimit', limit: 10 }] })).toEqual([
      { path: 'middlewares[0].maxAttempts', message: 'expected a number >= 1, got 0' },
      { path: 'middlewares[1].intervalMs', message: 'missing: expected a number' },
    ]);
  });

  it('suggests the middleware or option that was probably meant', () => {
    const issues = issuesOf({ transprot: 'undici', middlewares: [{ use: 'circuit-breaker' }, { use: 'retry', maxAtempts: 2 }] });
    expect(issues).toContainEqual({ path: 'transprot', message: 'unknown option "transprot" (did you mean "transport"?)' });
    expect(issues.find((i) => i.path === 'middlewares[0].use')?.message).toMatch(/^unknown middleware "circuit-breaker" \(did you mean "circuitBreaker"\?\)/);
    expect(issues).toContainEqual({ path: 'middlewares[1].maxAtempts', message: 'unknown option "maxAtempts" (did you mean "maxAttempts"?)' });
  });

  it('says that an option taking a function belongs in code, not in a config file', () => {
    expect(issuesOf({ middlewares: [{ use: 'retry', onRetry: 'log' }] })).toEqual([
      { path: 'middlewares[0].onRetry', message: '"onRetry" takes a function or an object, which a config file cannot hold: set it in code' },
    ]);
  });

  it('checks transport options and kinds', () => {
    expect(issuesOf({ transport: 'undic' })).toEqual([{ path: 'transport', message: 'expected one of "undici" | "node-fetch", or an object; got "undic"' }]);
    expect(issuesOf({ transport: { kind: 'undici', maxSockets: 0 } })).toEqual([{ path: 'transport.maxSockets', message: 'expected a number >= 1, got 0' }]);
    expect(issuesOf({ transport: { kind: 'curl' } })[0]).toMatchObject({ path: 'transport.kind' });
  });

  it('keeps each schema refinement and leaves the function members of unions out', () => {
    expect(issuesOf({ middlewares: [{ use: 'timeout' }] })).toEqual([{ path: 'middlewares[0]', message: 'set at least one of totalMs, attemptMs, connectMs, readMs' }]);
    expect(issuesOf({ middlewares: [{ use: 'circuitBreaker', key: 'path' }] })).toEqual([
      { path: 'middlewares[0].key', message: 'expected one of "host" | "global", got "path"' },
    ]);
    expect(issuesOf({ middlewares: [{ use: 'retry', backoff: { kind: 'custom' } }] })[0]?.message).toMatch(/^unknown kind "custom"/);
  });

  it('is an InvalidOptionsError whose message lists every problem', () => {
    try {
      stackFromConfig({ middlewares: [{ use: 'retry', maxAttempts: -1 }] });
      expect.unreachable();
    } catch (error) {
      expect(isInvalidOptionsError(error)).toBe(true);
      expect((error as Error).message).toBe('config: middlewares[0].maxAttempts: expected a number >= 1, got -1');
    }
  });

  it('fills in defaults', () => {
    const config = parseStackConfig({ middlewares: [{ use: 'retry' }] });
    expect(config.transport).toBe('undici');
    expect(config.middlewares[0]).toMatchObject({ use: 'retry', maxAttempts: 4, retryOnStatus: [408, 429, 500, 502, 503, 504] });
  });
});

describe('registerMiddleware', () => {
  const disposers: { dispose(): void }[] = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d.dispose();
  });

  const stampOptionsSchema = z.strictObject({
    header: z.string().min(1).default('x-stamp'),
    value: z.string().min(1),
    onStamp: z.custom<() => void>((v) => typeof v === 'function').optional(),
  });
  const stamp = (options: z.input<typeof stampOptionsSchema>) => {
    const resolved = parseOptions(stampOptionsSchema, options, 'stamp');
    return defineMiddleware(
      async function stamp(ctx, next) {
        ctx.request.headers.set(resolved.header, resolved.value);
        return next();
      },
      { name: 'stamp', options: resolved },
    );
  };

  it("lets a third-party middleware's options validate, build and appear in the JSON Schema", async () => {
    disposers.push(registerMiddleware({ name: 'stamp', schema: stampOptionsSchema, factory: stamp, package: 'shallot-middleware-stamp' }));
    expect(issuesOf({ middlewares: [{ use: 'stamp' }] })).toEqual([{ path: 'middlewares[0].value', message: 'missing: expected a string' }]);
    const schema = stackConfigJsonSchema() as { properties: { middlewares: { items: { oneOf?: unknown[]; anyOf?: unknown[] } } } };
    const entries = JSON.stringify(schema.properties.middlewares.items);
    expect(entries).toContain('"stamp"');
    expect(entries).not.toContain('onStamp');

    await using upstream = await createTestServer();
    const client = stackFromConfig({ baseUrl: upstream.url, middlewares: [{ use: 'stamp', value: 'yes' }] });
    try {
      await client.get('/');
      expect(upstream.requests()[0]?.headers['x-stamp']).toBe('yes');
    } finally {
      await client.close();
    }
  });

  it('updates the live stackConfigSchema binding, and dispose() takes the middleware away again', () => {
    const before = stackConfigSchema;
    const registration = registerMiddleware({ name: 'stamp', schema: stampOptionsSchema, factory: stamp });
    expect(stackConfigSchema).not.toBe(before);
    expect(stackConfigSchema.safeParse({ middlewares: [{ use: 'stamp', value: 'v' }] }).success).toBe(true);
    registration.dispose();
    expect(stackConfigSchema.safeParse({ middlewares: [{ use: 'stamp', value: 'v' }] }).success).toBe(false);
  });

  it('refuses a taken name, a bad name, and a schema JSON cannot fill', () => {
    expect(() => registerMiddleware({ name: 'retry', schema: stampOptionsSchema, factory: stamp })).toThrow(/'retry' is already registered by @shallot\/retry/);
    expect(() => registerMiddleware({ name: 'no spaces', schema: stampOptionsSchema, factory: stamp })).toThrow(/expected an identifier/);
    const needsFunction = z.strictObject({ handler: z.custom<() => void>((v) => typeof v === 'function') });
    expect(() => registerMiddleware({ name: 'handlerOnly', schema: needsFunction, factory: stamp })).toThrow(/no option can come from JSON/);
  });

  it('registers every middleware of this repository that JSON can configure', () => {
    expect(registeredMiddlewares().map((m) => m.name)).toEqual(
      expect.arrayContaining(['requestId', 'tracing', 'metrics', 'cache', 'timeout', 'rateLimit', 'concurrencyLimit', 'retry', 'circuitBreaker', 'hedge', 'cookies', 'auth', 'loadBalancer', 'tls', 'chaos']),
    );
  });
});

describe('stackConfigJsonSchema', () => {
  it("is zod's own JSON Schema of the config, with every middleware's JSON options and none of its functions", () => {
    const schema = stackConfigJsonSchema() as { $schema: string; properties: Record<string, unknown> };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['transport', 'baseUrl', 'timeoutMs', 'headers', 'middlewares']));
    const text = JSON.stringify(schema);
    for (const option of ['maxAttempts', 'failureThreshold', 'recoveryTimeoutMs', 'staleWhileRevalidate', 'intervalMs', 'attemptMs', 'pins']) expect(text).toContain(`"${option}"`);
    for (const fn of ['onRetry', 'shouldRetry', 'isFailure', 'onStateChange', 'tracerProvider', 'generate']) expect(text).not.toContain(`"${fn}"`);
  });
});
