import { type BaseContext, compose, defineMiddleware, type Middleware, type Next } from '@shallot/core';
import { createHook } from 'node:async_hooks';
import { createTestServer, type TestServer } from './test-server.js';

/** The rules {@link runMiddlewareConformance} checks, by name. */
export type ConformanceRule = 'passes-response' | 'abort' | 'deadline' | 'next-protocol' | 'options' | 'close';

/** The result of one rule. */
export interface ConformanceCheck {
  readonly rule: ConformanceRule;
  readonly ok: boolean;
  /** What went wrong, when it did. */
  readonly problem?: string | undefined;
}

/** What {@link runMiddlewareConformance} found. */
export interface ConformanceReport {
  /** The middleware's name, as `describe()` shows it. */
  readonly name: string;
  readonly checks: readonly ConformanceCheck[];
  /** True when every rule that ran held. */
  readonly ok: boolean;
}

/** Where the middleware under test is run: the loopback server's URL. */
export interface ConformanceEnv {
  readonly url: string;
}

/** Options of {@link runMiddlewareConformance}. */
export interface ConformanceOptions<O> {
  /**
   * Options the middleware works with (or a function of the test server's URL, for a layer that
   * must know it, such as a load balancer's endpoints). @default undefined (the factory's defaults)
   */
  options?: O | ((env: ConformanceEnv) => O) | undefined;
  /**
   * Inputs the factory must refuse with `InvalidOptionsError` (`ERR_INVALID_OPTIONS`), whose
   * message names the offending option. @default [{ notAnOption: true }] (strict schemas refuse unknown keys)
   */
  invalidOptions?: readonly unknown[] | undefined;
  /** Rules to leave out, each with the reason (kept in the report's problem text). */
  skip?: Partial<Record<ConformanceRule, string>> | undefined;
  /** How long a request may take to settle after an abort or a deadline before it counts as a hang. @default 3_000 */
  settleWithinMs?: number | undefined;
  /** Throw an error listing every broken rule. @default true */
  throwOnFailure?: boolean | undefined;
}

const failWith = (problem: string): never => {
  throw new Error(problem);
};

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${error.name}${typeof code === 'string' ? ` (${code})` : ''}: ${error.message}`;
  }
  return String(error);
}

// Runs the layer under test with a `next` that records misuse before forwarding it: a second
// call with the same context while one is pending, or any call after the layer settled.
interface Harness {
  readonly middleware: Middleware;
  readonly misuse: string[];
  /** Calls that reached the layers inside. */
  calls: number;
  /** Calls to next() not settled yet. */
  pending: number;
}

function harness(layer: Middleware<any, any>, name: string): Harness {
  const state: Harness = {
    misuse: [],
    calls: 0,
    pending: 0,
    middleware: defineMiddleware(
      async function conformanceHarness(ctx: BaseContext, next: Next) {
        let settled = false;
        const inFlight = new Set<BaseContext>();
        const checked: Next = (target = ctx) => {
          if (settled) state.misuse.push(`${name} called next() after it had settled`);
          else if (inFlight.has(target)) state.misuse.push(`${name} called next() again with the same context while a call was pending (concurrent attempts pass fork(ctx))`);
          inFlight.add(target);
          state.calls++;
          state.pending++;
          return next(target).finally(() => {
            inFlight.delete(target);
            state.pending--;
          });
        };
        try {
          return await layer(ctx as never, checked);
        } finally {
          settled = true;
        }
      },
      { name, options: layer.layer?.options, ...(layer.close === undefined ? {} : { close: layer.close }) },
    ),
  };
  return state;
}

// Handles and ref'd timers created while the check runs and not released by the end of it.
interface Leaks {
  /** Stops recording what is made (what is released still counts). */
  pause(): void;
  stop(): string[];
}

const watchedTypes = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'FSEVENTWRAP', 'STATWATCHER', 'UDPWRAP', 'TLSWRAP', 'PROCESSWRAP', 'SIGNALWRAP']);

function watchLeaks(): Leaks {
  const alive = new Map<number, { type: string; resource: object }>();
  let recording = true;
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (recording && watchedTypes.has(type)) alive.set(asyncId, { type, resource });
    },
    destroy(asyncId) {
      alive.delete(asyncId);
    },
  }).enable();
  let result: string[] | undefined;
  return {
    pause() {
      recording = false;
    },
    stop() {
      if (result !== undefined) return result;
      hook.disable();
      const left = new Map<string, number>();
      for (const { type, resource } of alive.values()) {
        // An unref'd timer holds nothing up.
        if (type === 'Timeout' && (resource as { hasRef?: () => boolean }).hasRef?.() === false) continue;
        left.set(type, (left.get(type) ?? 0) + 1);
      }
      result = [...left].map(([type, n]) => `${n} ${type}`);
      return result;
    },
  };
}

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Checks the rules every middleware must keep, against a real loopback server:
 * - `passes-response`: the Response from `next()` reaches the caller with its status, headers and
 *   body (a 200 and a 404), and the inner layers see the request;
 * - `abort`: the caller's abort settles the call promptly, rejecting with the abort's reason;
 * - `deadline`: a request's `timeoutMs` settles the call promptly (with a `TimeoutError`, or a
 *   Response the layer made, such as a fallback), never later;
 * - `next-protocol`: no `MiddlewareProtocolError` (a second `next()` while one is pending, or one
 *   after settling), and nothing reaches the inner layers after the call settled;
 * - `options`: the factory refuses bad options with `InvalidOptionsError` naming the option;
 * - `close`: `client.close()` settles, and leaves no timer, socket or handle the layer made.
 *
 * Resolves with a report; unless `throwOnFailure: false`, rejects listing every broken rule.
 *
 * @example
 * await runMiddlewareConformance(retry, { invalidOptions: [{ maxAttempts: 0 }] });
 * await runMiddlewareConformance(rateLimit, { options: { limit: 1_000, intervalMs: 1_000 } });
 */
export async function runMiddlewareConformance<O>(factory: (options: O) => Middleware<any, any>, options: ConformanceOptions<O> = {}): Promise<ConformanceReport> {
  const settleWithinMs = options.settleWithinMs ?? 3_000;
  const skip = options.skip ?? {};
  const checks: ConformanceCheck[] = [];
  const leaks = watchLeaks();
  const server: TestServer = await createTestServer();
  server
    .route('/ok', { status: 200, headers: { 'x-conformance': 'yes' }, body: 'conformance body' })
    .route('/missing', { status: 404, headers: { 'x-conformance': 'no' }, body: 'not here' })
    .route('/hang', { action: 'hang' });
  const env: ConformanceEnv = { url: server.url };
  const input = typeof options.options === 'function' ? (options.options as (env: ConformanceEnv) => O)(env) : options.options;
  const make = (): Middleware<any, any> => factory(input as O);
  let name = factory.name || 'middleware';

  let probe: Harness | undefined;
  let client: ReturnType<ReturnType<typeof compose>['build']> | undefined;
  const protocolErrors: string[] = [];
  const track = async <T>(promise: Promise<T>): Promise<T> => {
    try {
      return await promise;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_MIDDLEWARE_PROTOCOL') protocolErrors.push(describeError(error));
      throw error;
    }
  };

  async function rule(which: ConformanceRule, body: () => Promise<void>): Promise<void> {
    if (skip[which] !== undefined) return;
    try {
      await body();
      checks.push({ rule: which, ok: true });
    } catch (error) {
      checks.push({ rule: which, ok: false, problem: error instanceof Error ? error.message : String(error) });
    }
  }

  try {
    await rule('options', async () => {
      for (const bad of options.invalidOptions ?? [{ notAnOption: true }]) {
        let thrown: unknown;
        try {
          factory(bad as O);
        } catch (error) {
          thrown = error;
        }
        if (thrown === undefined) failWith(`${name}(${JSON.stringify(bad)}) did not throw`);
        if ((thrown as { code?: unknown }).code !== 'ERR_INVALID_OPTIONS') failWith(`${name}(${JSON.stringify(bad)}) threw ${describeError(thrown)}, not an InvalidOptionsError`);
        const keys = bad !== null && typeof bad === 'object' ? Object.keys(bad) : [];
        const message = (thrown as Error).message;
        // Core's wording names the path (`retry.maxAttempts: ...`); at least the input's own keys or a path.
        if (keys.length > 0 && !keys.some((k) => message.includes(k)) && !/^[\w$]+(\.[\w$[\]]+)+: /.test(message)) {
          failWith(`${name}(${JSON.stringify(bad)}): the message names no option: ${message}`);
        }
      }
    });

    const middleware = make();
    name = middleware.layer?.name ?? middleware.name ?? name;
    probe = harness(middleware, name);
    client = compose().use(probe.middleware).build({ baseUrl: server.url });

    await rule('passes-response', async () => {
      for (const [path, status, header, body] of [
        ['/ok', 200, 'yes', 'conformance body'],
        ['/missing', 404, 'no', 'not here'],
      ] as const) {
        const before = (probe as Harness).calls;
        const response = await track((client as NonNullable<typeof client>).get(path));
        if (!(response instanceof Response)) failWith(`GET ${path} resolved with ${typeof response}, not a Response`);
        if (response.status !== status) failWith(`GET ${path}: status ${response.status}, expected ${status}`);
        if (response.headers.get('x-conformance') !== header) failWith(`GET ${path}: the upstream's x-conformance header was lost`);
        const text = await response.text();
        if (text !== body) failWith(`GET ${path}: body ${JSON.stringify(text)}, expected ${JSON.stringify(body)}`);
        if ((probe as Harness).calls === before && server.hits(path) === 0) failWith(`GET ${path} never reached the inner layers`);
      }
    });

    await rule('abort', async () => {
      const controller = new AbortController();
      const reason = new Error('conformance: aborted by the caller');
      const call = track((client as NonNullable<typeof client>).get('/hang', { signal: controller.signal }));
      setTimeout(() => controller.abort(reason), 30);
      const outcome = await within(
        call.then(
          (response) => ({ response }),
          (error: unknown) => ({ error }),
        ),
        settleWithinMs,
        'a request aborted by the caller',
      );
      if ('response' in outcome) failWith(`an aborted request resolved with status ${outcome.response.status}`);
      if ((outcome as { error: unknown }).error !== reason) failWith(`an aborted request rejected with ${describeError((outcome as { error: unknown }).error)}, not the abort's reason`);
    });

    await rule('deadline', async () => {
      const call = track((client as NonNullable<typeof client>).get('/hang', { timeoutMs: 50 }));
      const outcome = await within(
        call.then(
          (response) => ({ response }),
          (error: unknown) => ({ error }),
        ),
        settleWithinMs,
        'a request with timeoutMs: 50',
      );
      if ('error' in outcome && (outcome.error as { code?: unknown }).code !== 'ERR_TIMEOUT') failWith(`a request past its deadline rejected with ${describeError(outcome.error)}, not a TimeoutError`);
    });

    await rule('next-protocol', async () => {
      await Promise.allSettled([track(client!.get('/ok')), track(client!.get('/missing')), track(client!.get('/ok'))]);
      await settle(20);
      const misuse = [...new Set([...(probe as Harness).misuse, ...protocolErrors])];
      if (misuse.length > 0) failWith(misuse.join('; '));
      if ((probe as Harness).pending !== 0) failWith(`${(probe as Harness).pending} calls to next() still pending after every request settled`);
    });

    await rule('close', async () => {
      const c = client as NonNullable<typeof client>;
      client = undefined;
      await within(c.close(), settleWithinMs, 'client.close()');
      await within(c.close(), settleWithinMs, 'a second client.close()');
      await server.close();
      leaks.pause();
      await settle(50);
      const left = leaks.stop();
      if (left.length > 0) failWith(`after close(): ${left.join(', ')} made while it ran still active`);
    });
  } finally {
    leaks.stop();
    await client?.close();
    await server.close();
  }

  for (const [which, why] of Object.entries(skip)) checks.push({ rule: which as ConformanceRule, ok: true, problem: `skipped: ${why}` });
  const report: ConformanceReport = { name, checks, ok: checks.every((c) => c.ok) };
  if (!report.ok && options.throwOnFailure !== false) {
    const broken = checks.filter((c) => !c.ok).map((c) => `${c.rule}: ${c.problem}`);
    throw new Error(`${name} breaks ${broken.length} conformance rule${broken.length === 1 ? '' : 's'}: ${broken.join('; ')}`);
  }
  return report;
}
