// Every factory validates its options once, at construction, through its exported schema: a
// value an option's schema refuses (a wrong type, mostly) throws InvalidOptionsError whose
// message starts with the option's path (`retry.maxAttempts: ...`), whichever option it is and
// whatever the value. The options of each schema are read from the schema itself, so an option
// added later is covered too.
import { auth, authOptionsSchema } from '@shallot/auth';
import { cache, cacheOptionsSchema, memoryCacheStore, memoryCacheStoreOptionsSchema } from '@shallot/cache';
import { circuitBreaker, circuitBreakerOptionsSchema, fallback, fallbackOptionsSchema } from '@shallot/circuit-breaker';
import { ConnectionManager, connectionManagerOptionsSchema } from '@shallot/connection-manager';
import { cookies, cookiesOptionsSchema } from '@shallot/cookies';
import { clientOptionsSchema, compose, isInvalidOptionsError, nodeFetchTransport, nodeFetchTransportOptionsSchema, undiciTransport, undiciTransportOptionsSchema } from '@shallot/core';
import { hedge, hedgeOptionsSchema } from '@shallot/hedge';
import { HookRegistry, hooks, hooksOptionsSchema } from '@shallot/hooks';
import { tls, tlsOptionsSchema } from '@shallot/mtls';
import { concurrencyLimit, concurrencyLimitOptionsSchema, rateLimit, rateLimitOptionsSchema } from '@shallot/rate-limit';
import { retry, retryBudget, retryBudgetOptionsSchema, retryOptionsSchema } from '@shallot/retry';
import { chaos, chaosOptionsSchema } from '@shallot/testing';
import { timeout, timeoutOptionsSchema } from '@shallot/timeout';
import { metrics, metricsOptionsSchema, requestId, requestIdOptionsSchema, tracing, tracingOptionsSchema } from '@shallot/tracing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

interface Entry {
  /** The name the factory prints before each path. */
  readonly name: string;
  readonly make: (options: Record<string, unknown>) => unknown;
  readonly schema: { readonly shape: Record<string, { safeParse(value: unknown): { success: boolean } }> };
  /** Valid values of the options the factory requires. */
  readonly base?: Record<string, unknown>;
}

const entries: Entry[] = [
  { name: 'build', make: (o) => compose().build(o), schema: clientOptionsSchema },
  { name: 'undiciTransport', make: (o) => undiciTransport(o), schema: undiciTransportOptionsSchema },
  { name: 'nodeFetchTransport', make: (o) => nodeFetchTransport(o), schema: nodeFetchTransportOptionsSchema },
  { name: 'timeout', make: (o) => timeout(o), schema: timeoutOptionsSchema, base: { totalMs: 1_000 } },
  { name: 'retry', make: (o) => retry(o), schema: retryOptionsSchema },
  { name: 'retryBudget', make: (o) => retryBudget(o), schema: retryBudgetOptionsSchema },
  { name: 'hedge', make: (o) => hedge(o), schema: hedgeOptionsSchema, base: { delayMs: 10 } },
  { name: 'circuitBreaker', make: (o) => circuitBreaker(o), schema: circuitBreakerOptionsSchema },
  { name: 'fallback', make: (o) => fallback(o as never), schema: fallbackOptionsSchema, base: { handler: () => new Response('x') } },
  { name: 'rateLimit', make: (o) => rateLimit(o as never), schema: rateLimitOptionsSchema, base: { limit: 10, intervalMs: 1_000 } },
  { name: 'concurrencyLimit', make: (o) => concurrencyLimit(o as never), schema: concurrencyLimitOptionsSchema, base: { max: 2 } },
  { name: 'cache', make: (o) => cache(o), schema: cacheOptionsSchema },
  { name: 'memoryCacheStore', make: (o) => memoryCacheStore(o), schema: memoryCacheStoreOptionsSchema },
  { name: 'tracing', make: (o) => tracing(o), schema: tracingOptionsSchema },
  { name: 'requestId', make: (o) => requestId(o), schema: requestIdOptionsSchema },
  { name: 'metrics', make: (o) => metrics(o), schema: metricsOptionsSchema },
  { name: 'tls', make: (o) => tls(o), schema: tlsOptionsSchema },
  { name: 'cookies', make: (o) => cookies(o), schema: cookiesOptionsSchema },
  { name: 'chaos', make: (o) => chaos(o), schema: chaosOptionsSchema },
  { name: 'hooks', make: (o) => hooks(new HookRegistry(), o), schema: hooksOptionsSchema },
  { name: 'auth', make: (o) => auth(o), schema: authOptionsSchema },
  { name: 'ConnectionManager', make: (o) => new ConnectionManager(o), schema: connectionManagerOptionsSchema },
];

/** Values of every type: primitives, objects, arrays, dates, maps, typed arrays, functions, symbols. */
const anyValue = fc.oneof(
  fc.anything({ maxDepth: 2, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true }),
  fc.constant(() => 0),
  fc.constant(Symbol('option')),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2 ** 31, 1.5, '', '-1', 'true', null),
);

describe('option schemas refuse what they do not accept, naming the path (property)', () => {
  it.each(entries.map((entry) => [entry.name, entry] as const))('%s', (_name, entry) => {
    const keys = Object.keys(entry.schema.shape);
    expect(keys.length).toBeGreaterThan(0);
    // A key with its schema and a value that schema refuses (undefined means "not set": skipped).
    const refused = fc
      .tuple(fc.constantFrom(...keys), anyValue)
      .filter(([key, value]) => value !== undefined && !(entry.schema.shape[key] as { safeParse(v: unknown): { success: boolean } }).safeParse(value).success);
    fc.assert(
      fc.property(refused, ([key, value]) => {
        let error: unknown;
        let made: unknown;
        try {
          made = entry.make({ ...entry.base, [key]: value });
        } catch (caught) {
          error = caught;
        }
        // A transport made by mistake would hold sockets: close it (the assertion still fails).
        void (made as { close?: () => Promise<void> } | undefined)?.close?.();
        expect(isInvalidOptionsError(error), `${entry.name}.${key} = ${String(typeof value === 'symbol' ? 'a symbol' : typeof value)}`).toBe(true);
        expect((error as Error).message.startsWith(`${entry.name}.${key}`), (error as Error).message).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('wrong types say what was expected and what came', () => {
    const messageOf = (make: () => unknown): string => {
      try {
        make();
      } catch (error) {
        return (error as Error).message;
      }
      return 'did not throw';
    };
    expect(messageOf(() => retry({ maxAttempts: 'three' as never }))).toBe('retry.maxAttempts: expected a number, got "three"');
    expect(messageOf(() => hedge({ delayMs: true as never }))).toBe('hedge.delayMs: expected a number, got true');
    expect(messageOf(() => circuitBreaker({ isFailure: 5 as never }))).toMatch(/^circuitBreaker\.isFailure: expected a function/);
    expect(messageOf(() => compose().build({ timeoutMs: null as never }))).toBe('build.timeoutMs: expected a number, got null');
  });
});
