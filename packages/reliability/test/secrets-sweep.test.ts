// The secrets sweep: known secrets go through every path of the full stack (success, redirects
// within and across origins, timeout, network error, HttpError, retries exhausted, an open
// circuit, a cache hit) on both transports, in headers, query strings, JSON bodies, cookies and
// URL credentials; then every log line (debug level on), span attribute and event, metric
// attribute and data point, and every error's message, stack, util.inspect and JSON is searched
// for them. None may appear.
import { inspect } from 'node:util';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { type Client, defaultCredentialHeaders, isShallotError, type Logger, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { fullStack, type FullStack } from '@shallot/reliability';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** Every credential header shallot knows, each with its own secret. */
const headerSecrets: Record<string, string> = Object.fromEntries(defaultCredentialHeaders.map((name) => [name, `hdr-${name.replace(/[^a-z]/g, '')}-S3CRET-${name.length}x`]));
headerSecrets.authorization = 'Bearer bearer-S3CRET-token-42';
headerSecrets.cookie = 'session=cookie-S3CRET-session-42; theme=dark';
headerSecrets['proxy-authorization'] = 'Basic cHJveHk6cHJveHktUzNDUkVU';

/** Query keys that carry secrets, each with its own value. */
const queryKeys = ['token', 'api_key', 'apikey', 'key', 'code', 'password', 'access_token', 'client_secret', 'secret', 'pwd', 'pass', 'jwt', 'auth', 'sid', 'otp', 'signature', 'sig'];
const querySecrets: Record<string, string> = Object.fromEntries(queryKeys.map((key) => [key, `q-${key.replace(/_/g, '')}-S3CRET-value`]));

const urlPassword = 'url-pass-S3CRET-99';
const basicOfUrl = Buffer.from(`alice:${urlPassword}`).toString('base64');
const bodySecret = 'body-password-S3CRET-77';
const setCookieSecret = 'set-cookie-S3CRET-sid-55';
/** Set by auth() (when @shallot/auth is in the workspace) in a header it registers as a credential. */
const authKeySecret = 'auth-partner-key-S3CRET-31';

/** Every value that must never be seen; the parts after a scheme too (`Bearer x`: `x` alone). */
const secrets: string[] = [
  ...Object.values(headerSecrets).flatMap((v) => [v, v.replace(/^(Bearer|Basic) /, '')]),
  'cookie-S3CRET-session-42',
  ...Object.values(querySecrets),
  urlPassword,
  basicOfUrl,
  bodySecret,
  setCookieSecret,
  authKeySecret,
];

const search = new URLSearchParams({ page: '2', ...querySecrets }).toString();

/** A pino-style logger that records every call it gets, debug level on. */
function recordingLogger(lines: string[], bindings: object = {}): Logger {
  const record =
    (level: string) =>
    (...args: unknown[]): void => {
      lines.push(inspect({ level, bindings, args }, { depth: 10 }));
    };
  return {
    level: 'trace',
    isLevelEnabled: () => true,
    trace: record('trace'),
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    fatal: record('fatal'),
    child: (more: object) => recordingLogger(lines, { ...bindings, ...more }),
  } as Logger;
}

/** What an error shows every way it can be printed. */
function errorViews(error: unknown): string[] {
  if (!(error instanceof Error)) return [inspect(error, { depth: 10 })];
  const views = [error.message, error.stack ?? '', inspect(error, { depth: 10 }), String(error)];
  try {
    views.push(JSON.stringify(error));
  } catch (problem) {
    views.push(`JSON.stringify threw: ${String(problem)}`);
  }
  return views;
}

const transports: Array<[string, () => Transport]> = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

let upstream: TestServer;
let other: TestServer;
let exporter: InMemorySpanExporter;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(contextManager.enable());
  upstream = await createTestServer();
  other = await createTestServer();
  upstream.route('/ok', { json: { ok: true }, headers: { 'set-cookie': `sid=${setCookieSecret}; Path=/; HttpOnly` } });
  upstream.route('/cacheable', { json: { cached: true }, headers: { 'cache-control': 'max-age=60' } });
  upstream.route('/redirect-same', { status: 302, headers: { location: `/ok?${search}` } });
  upstream.route('/redirect-cross', { status: 307, headers: { location: `${other.url.replace('127.0.0.1', 'localhost')}/ok?${search}` } });
  upstream.route('/fail', { status: 500, json: { error: 'broken' }, headers: { 'set-cookie': `sid=${setCookieSecret}` } });
  upstream.route('/hang', { action: 'hang' });
  upstream.route('/reset', { action: 'reset' });
  other.route('/ok', { json: { other: true } });
});

afterAll(async () => {
  propagation.disable();
  context.disable();
  await upstream.close();
  await other.close();
});

describe.each(transports)('secrets sweep (%s)', (_name, makeTransport) => {
  it('no secret reaches a log line, span, metric or error on any path', async () => {
    upstream.reset();
    const lines: string[] = [];
    exporter = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const reader = new TestMetricReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const stack: FullStack = await fullStack({
      tracing: {
        tracerProvider,
        meterProvider,
        captureRequestHeaders: [...defaultCredentialHeaders, 'x-partner-key', 'accept'],
        captureResponseHeaders: ['set-cookie', 'content-type'],
      },
      totalTimeout: { totalMs: 5_000 },
      attemptTimeout: { attemptMs: 2_000 },
      retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
      hedge: { delayMs: 1_000 },
      circuitBreaker: { failureThreshold: 5, recoveryTimeoutMs: 60_000 },
      arriving: { auth: { apiKey: authKeySecret, apiKeyHeader: 'X-Partner-Key' } },
    });
    const client: Client<any> = stack.builder.build({ transport: makeTransport(), logger: recordingLogger(lines) });
    const errors: unknown[] = [];
    const seen: string[] = [];
    const headers = { ...headerSecrets, accept: 'application/json' };
    const base = upstream.url.replace('://', `://alice:${urlPassword}@`);
    const cacheStatuses: string[] = [];
    const attempt = async (run: () => Promise<Response>): Promise<void> => {
      try {
        const response = await run();
        seen.push(response.url, inspect(response.headers));
        cacheStatuses.push(response.headers.get('x-cache') ?? '');
        await response.arrayBuffer();
      } catch (error) {
        expect(isShallotError(error), inspect(error)).toBe(true);
        errors.push(error);
      }
    };

    try {
      // success, with every credential header, query secrets, a JSON body and URL credentials
      await attempt(() => client.post(`${base}/ok?${search}`, { headers: { ...headers, 'idempotency-key': 'k1' }, json: { user: 'alice', password: bodySecret } }));
      // the cookie the server set goes back through the cookie jar (when @shallot/cookies is present)
      await attempt(() => client.get(`${upstream.url}/ok?${search}`, { headers }));
      // redirects within the origin and across origins
      await attempt(() => client.get(`${base}/redirect-same?${search}`, { headers }));
      await attempt(() => client.get(`${base}/redirect-cross?${search}`, { headers }));
      // a cache miss, then a hit
      await attempt(() => client.get(`${upstream.url}/cacheable?${search}`, { headers }));
      await attempt(() => client.get(`${upstream.url}/cacheable?${search}`, { headers }));
      // a timeout
      await attempt(() => client.get(`${base}/hang?${search}`, { headers, timeoutMs: 100 }));
      // retries exhausted on resets
      await attempt(() => client.get(`${base}/reset?${search}`, { headers }));
      // HttpError (throwHttpErrors), after retry gave up on the 500s
      await attempt(() => client.get(`${base}/fail?${search}`, { headers, throwHttpErrors: true }));
      // failures until the circuit for this host opens
      const open = (): boolean => errors.some((e) => (e as { code?: unknown }).code === 'ERR_CIRCUIT_OPEN');
      for (let i = 0; i < 6 && !open(); i++) await attempt(() => client.get(`${base}/reset?${search}`, { headers }));
      // a network error on a closed port, with a POST (not retried)
      const closed = await createTestServer();
      const closedUrl = closed.url.replace('://', `://alice:${urlPassword}@`);
      await closed.close();
      await attempt(() => client.post(`${closedUrl}/ok?${search}`, { headers, json: { password: bodySecret } }));
    } finally {
      await client.close();
    }

    // auth() and hooks() are in the stack, and auth's key reached the upstream.
    expect(stack.layers).toEqual(expect.arrayContaining(['hooks', 'cookies', 'auth']));
    expect(upstream.requests().some((r) => r.headers['x-partner-key'] === authKeySecret)).toBe(true);
    const codes = errors.map((e) => (e as { code: string }).code).sort();
    expect(codes).toEqual(expect.arrayContaining(['ERR_CIRCUIT_OPEN', 'ERR_HTTP', 'ERR_MAX_RETRIES', 'ERR_NETWORK', 'ERR_TIMEOUT']));
    expect(cacheStatuses).toContain('HIT');

    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(10);
    const { resourceMetrics } = await reader.collect();
    const haystack: Array<[string, string]> = [
      ...lines.map((line): [string, string] => ['log line', line]),
      ...spans.map((span): [string, string] => [
        `span ${span.name}`,
        inspect({ name: span.name, attributes: span.attributes, events: span.events, status: span.status, links: span.links }, { depth: 10 }),
      ]),
      ['metrics', inspect(resourceMetrics, { depth: 12 })],
      ['metrics()', inspect(stack.metrics.snapshot(), { depth: 10 })],
      ['describe()', inspect(client.describe(), { depth: 10 })],
      ...errors.flatMap((error) => errorViews(error).map((view): [string, string] => [`error ${(error as Error).name}`, view])),
    ];
    // A Response is the caller's own data: its url keeps the query the caller sent and its headers
    // the Set-Cookie the server sent (fetch semantics); URL credentials never reach it.
    for (const view of seen) expect(view.includes(urlPassword) || view.includes(basicOfUrl), view).toBe(false);
    // The secrets' paths really were recorded, redacted: query keys in log lines and spans,
    // credential headers in span attributes, URLs in errors; what is not secret is kept.
    expect(lines.length).toBeGreaterThan(10);
    const all = haystack.map(([, text]) => text).join('\n');
    expect(lines.some((line) => line.includes('token=[REDACTED]') && line.includes('page=2'))).toBe(true);
    expect(all).toContain("'http.request.header.x-api-key': [ '[REDACTED]' ]");
    expect(all).toContain("'http.request.header.accept': [ 'application/json' ]");
    expect(errors.some((error) => (error as Error).message.includes('api_key=[REDACTED]'))).toBe(true);
    const leaks = [...new Set(haystack.flatMap(([where, text]) => secrets.filter((secret) => text.includes(secret)).map((secret) => `${where}: ${secret}`)))];
    const firstLeak = haystack.find(([, text]) => secrets.some((secret) => text.includes(secret)));
    expect(leaks, firstLeak?.[1].slice(0, 3_000)).toEqual([]);

    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  });
});
