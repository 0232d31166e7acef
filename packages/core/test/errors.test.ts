import {
  compose,
  defineMiddleware,
  errorGuard,
  formatIssues,
  isShallotError,
  isTimeoutError,
  InvalidOptionsError,
  type Middleware,
  parseOptions,
  redactUrlCredentials,
  ShallotError,
  TimeoutError,
} from '@shallot/core';
import { mockTransport } from '@shallot/testing';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

describe('the error family', () => {
  it('has stable codes, names and messages that name the method and URL without credentials', () => {
    const error = new TimeoutError('attempt', 250, { request: { method: 'GET', url: new URL('https://user:pw@api.example.test/items?x=1') } });
    expect(error).toBeInstanceOf(ShallotError);
    expect(error.name).toBe('TimeoutError');
    expect(error.code).toBe('ERR_TIMEOUT');
    expect(error.message).toBe('GET https://api.example.test/items?x=1: attempt timeout after 250 ms');
    expect(error.url).toBe('https://api.example.test/items?x=1');
    expect(error.method).toBe('GET');
    expect(redactUrlCredentials('https://a:b@x.test/')).toBe('https://x.test/');
  });

  it('guards recognise errors from another installed copy by brand and code', () => {
    // What a second copy of @shallot/core would throw: same global brand, same code, another class.
    class ForeignError extends Error {
      readonly code = 'ERR_TIMEOUT';
      constructor() {
        super('foreign');
        Object.defineProperty(this, Symbol.for('shallot.error'), { value: true });
      }
    }
    const foreign = new ForeignError();
    expect(foreign).not.toBeInstanceOf(ShallotError);
    expect(isShallotError(foreign)).toBe(true);
    expect(isTimeoutError(foreign)).toBe(true);
    expect(isTimeoutError(new Error('plain'))).toBe(false);
    expect(isShallotError({ code: 'ERR_TIMEOUT' })).toBe(false);
    const isCustom = errorGuard('ERR_CUSTOM');
    expect(isCustom(new ShallotError('ERR_CUSTOM', 'custom'))).toBe(true);
  });
});

describe('parseOptions', () => {
  it('never prints a secret held in the value it complains about', () => {
    const schema = z.strictObject({ basic: z.string().optional(), apiKey: z.string().optional() });
    const message = (() => {
      try {
        parseOptions(schema, { basic: { username: 'u', password: 'hunter2' }, apiKey: 42_424_242 }, 'auth');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toContain('auth.basic: expected a string');
    expect(message).toContain('auth.apiKey: expected a string');
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('42424242');
  });

  const schema = z.strictObject({
    maxAttempts: z.number().int().min(1).default(3),
    mode: z.enum(['wait', 'reject']).default('wait'),
    nested: z.strictObject({ initialMs: z.number().positive() }).optional(),
  });

  it('fills defaults', () => {
    expect(parseOptions(schema, undefined, 'retry')).toEqual({ maxAttempts: 3, mode: 'wait' });
  });

  it('names every bad path and value in one InvalidOptionsError, with the zod error as cause', () => {
    let caught: unknown;
    try {
      parseOptions(schema, { maxAttempts: -1, mode: 'later', nested: { initialMs: 'x' }, typo: 1 }, 'retry');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidOptionsError);
    const error = caught as InvalidOptionsError;
    expect(error.code).toBe('ERR_INVALID_OPTIONS');
    expect(error.message).toContain('retry.maxAttempts: expected a number >= 1, got -1');
    expect(error.message).toContain('retry.mode: expected one of "wait" | "reject", got "later"');
    expect(error.message).toContain('retry.nested.initialMs: expected a number, got "x"');
    expect(error.message).toContain("retry: unknown option 'typo'");
    expect(error.cause).toBeInstanceOf(z.ZodError);
    expect(formatIssues((error.cause as z.ZodError).issues, {}, 'x')).toContain('x.maxAttempts');
  });
});

describe('typed context accumulation', () => {
  interface Stamp {
    stamp: { at: number };
  }
  const stamp = (): Middleware<{}, Stamp> =>
    defineMiddleware<{}, Stamp>(async function stamp(ctx, next) {
      ctx.stamp = { at: ctx.clock.now() };
      return next();
    });
  const needsStamp = (): Middleware<Stamp> =>
    defineMiddleware<Stamp>(async function needsStamp(ctx, next) {
      ctx.request.headers.set('x-stamp', String(ctx.stamp.at));
      return next();
    });

  it('inner layers and exchange() see the keys outer layers provide', async () => {
    const transport = mockTransport((call) => new Response(call.headers.get('x-stamp')));
    await using client = compose()
      .use(stamp())
      .use(async (ctx, next) => {
        expectTypeOf(ctx.stamp.at).toEqualTypeOf<number>();
        return next();
      })
      .use(needsStamp())
      .build({ transport });
    const { response, context } = await client.exchange('GET', 'https://api.example.test/');
    expectTypeOf(context.stamp).toEqualTypeOf<{ at: number }>();
    expect(await response.text()).toBe(String(context.stamp.at));
  });

  it('a middleware with extra members (events, controls) keeps its provided keys through use()', async () => {
    type Controlled = Middleware<{}, Stamp> & { reset(): void };
    const controlled = (): Controlled => Object.assign(stamp(), { reset: () => {} });
    await using client = compose().use(controlled()).use(needsStamp()).build({ transport: mockTransport() });
    const { context } = await client.exchange('GET', 'https://api.example.test/');
    expectTypeOf(context.stamp.at).toEqualTypeOf<number>();
  });

  it('a middleware that requires a key cannot be used before the one that provides it', () => {
    // @ts-expect-error needsStamp requires ctx.stamp, which nothing outside it provides
    const attempt = () => compose().use(needsStamp());
    expect(attempt).toBeTypeOf('function');
  });
});
