import { createSecureServer } from 'node:http2';
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, isTracingSuppressed, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { type DataPoint, type Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { compose, defineMiddleware, fork, isInvalidOptionsError, type Logger, type Transport, undiciTransport } from '@shallot/core';
import { createTestServer, failTimes, type TestServer, testCertificates, waitFor } from '@shallot/testing';
import { requestId, tracing } from '@shallot/tracing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface RetryReport {
  attempt: number;
  delaysMs: number[];
  exhausted: boolean;
}

/** A stand-in for @shallot/retry: re-sends on 5xx up to `max` times, reporting as retry() does. */
function retryOn5xx(max = 3, delayMs = 5) {
  return defineMiddleware<{}, { retry: RetryReport }>(async function retry(ctx, next) {
    const report: RetryReport = { attempt: 1, delaysMs: [], exhausted: false };
    ctx.retry = report;
    for (let attempt = 1; ; attempt++) {
      ctx.attempt = attempt;
      report.attempt = attempt;
      const response = await next();
      if (response.status < 500 || attempt >= max) {
        report.exhausted = response.status >= 500;
        return response;
      }
      await response.arrayBuffer();
      report.delaysMs.push(delayMs);
      await ctx.clock.sleep(delayMs, ctx.signal);
    }
  });
}

const traceparentOf = (server: TestServer, path: string, index = 0): string => String(server.requests(path)[index]?.headers.traceparent);
const parentIdOf = (traceparent: string): string => traceparent.split('-')[2] ?? '';
const traceIdOf = (traceparent: string): string => traceparent.split('-')[1] ?? '';

let server: TestServer;
let exporter: InMemorySpanExporter;
let tracerProvider: BasicTracerProvider;
let reader: TestMetricReader;
let meterProvider: MeterProvider;
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(async () => {
  server = await createTestServer();
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  context.setGlobalContextManager(contextManager.enable());
});

afterAll(async () => {
  propagation.disable();
  context.disable();
  await server.close();
});

beforeEach(() => {
  server.reset();
  exporter = new InMemorySpanExporter();
  tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  reader = new TestMetricReader();
  meterProvider = new MeterProvider({ readers: [reader] });
});

afterEach(async () => {
  await tracerProvider.shutdown();
  await meterProvider.shutdown();
});

const rootSpans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.parentSpanContext === undefined);
const childrenOf = (span: ReadableSpan): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId);

describe('tracing(): spans', () => {
  it('makes one CLIENT span per request, named after the method, with the HTTP client conventions', async () => {
    server.route('/items', { json: [1, 2] });
    await using client = compose().use(tracing({ tracerProvider, meterProvider })).build({ baseUrl: server.url });
    const response = await client.get('/items', { searchParams: { page: 2 } });
    expect(await response.json()).toEqual([1, 2]);

    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const span = spans[0] as ReadableSpan;
    expect(span.name).toBe('GET');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.instrumentationScope.name).toBe('@shallot/tracing');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.full': `${server.url}/items?page=2`,
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'http.response.status_code': 200,
      'network.protocol.version': '1.1',
    });
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.attributes['http.request.resend_count']).toBeUndefined();
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('reports network.protocol.version 2 when undici spoke HTTP/2', async () => {
    const { ca, cert, key } = testCertificates();
    const h2 = createSecureServer({ cert, key, allowHTTP1: true }, (_request, response) => response.end('{}'));
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    try {
      await using client = compose()
        .use(tracing({ tracerProvider, meterProvider }))
        .build({ transport: undiciTransport({ allowH2: true }) });
      await (await client.get(`https://127.0.0.1:${(h2.address() as { port: number }).port}/`, { tls: { ca } })).json();
      expect(exporter.getFinishedSpans()[0]?.attributes['network.protocol.version']).toBe('2');
    } finally {
      h2.close();
    }
  });

  it('sends a traceparent whose trace id and parent id are the exported span', async () => {
    server.route('/tp', { json: {} });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    const { context: ctx } = await client.exchange('GET', '/tp');
    const span = exporter.getFinishedSpans()[0] as ReadableSpan;
    const traceparent = traceparentOf(server, '/tp');
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceIdOf(traceparent)).toBe(span.spanContext().traceId);
    expect(parentIdOf(traceparent)).toBe(span.spanContext().spanId);
    expect(ctx.trace.traceId).toBe(span.spanContext().traceId);
    expect(ctx.trace.spanId).toBe(span.spanContext().spanId);
  });

  it("takes the caller's active context as the parent, and sends its baggage", async () => {
    server.route('/child', { json: {} });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    const tracer = tracerProvider.getTracer('app');
    const parent = tracer.startSpan('handle order');
    const active = propagation.setBaggage(trace.setSpan(context.active(), parent), propagation.createBaggage({ tenant: { value: 'acme' } }));
    await context.with(active, () => client.get('/child'));
    parent.end();

    const span = exporter.getFinishedSpans().find((s) => s.name === 'GET') as ReadableSpan;
    expect(span.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(span.spanContext().traceId).toBe(parent.spanContext().traceId);
    const sent = server.requests('/child')[0];
    expect(traceIdOf(String(sent?.headers.traceparent))).toBe(parent.spanContext().traceId);
    expect(sent?.headers.baggage).toBe('tenant=acme');
  });

  it('gives a retried request one child span per attempt, resend counts, and a traceparent per attempt', async () => {
    server.route('/flaky', failTimes(2));
    await using client = compose().use(tracing({ tracerProvider })).use(retryOn5xx(3, 5)).build({ baseUrl: server.url });
    const response = await client.get('/flaky');
    expect(response.status).toBe(200);
    expect(server.hits('/flaky')).toBe(3);

    const roots = rootSpans();
    expect(roots).toHaveLength(1);
    const request = roots[0] as ReadableSpan;
    expect(request.attributes['http.response.status_code']).toBe(200);
    expect(request.status.code).toBe(SpanStatusCode.UNSET);
    const attempts = childrenOf(request).sort((a, b) => Number(a.attributes['http.request.resend_count'] ?? 0) - Number(b.attributes['http.request.resend_count'] ?? 0));
    expect(attempts).toHaveLength(3);
    expect(attempts.map((s) => s.name)).toEqual(['GET', 'GET', 'GET']);
    expect(attempts.map((s) => s.kind)).toEqual([SpanKind.CLIENT, SpanKind.CLIENT, SpanKind.CLIENT]);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([undefined, 1, 2]);
    expect(attempts.map((s) => s.attributes['http.response.status_code'])).toEqual([503, 503, 200]);
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['503', '503', undefined]);

    // Every attempt carries the request's trace; the second and third name their own attempt span.
    const sent = [0, 1, 2].map((i) => traceparentOf(server, '/flaky', i));
    for (const tp of sent) expect(traceIdOf(tp)).toBe(request.spanContext().traceId);
    expect(parentIdOf(sent[0] as string)).toBe(request.spanContext().spanId);
    expect(parentIdOf(sent[1] as string)).toBe(attempts[1]?.spanContext().spanId);
    expect(parentIdOf(sent[2] as string)).toBe(attempts[2]?.spanContext().spanId);

    // The first attempt's span, made after the fact, keeps its real timing: it ends before the second starts.
    const ms = (t: [number, number]): number => t[0] * 1e3 + t[1] / 1e6;
    expect(ms((attempts[0] as ReadableSpan).endTime)).toBeLessThanOrEqual(ms((attempts[1] as ReadableSpan).startTime));
    expect(ms((attempts[0] as ReadableSpan).startTime)).toBeGreaterThanOrEqual(ms(request.startTime));

    const scheduled = request.events.filter((e) => e.name === 'shallot.retry.scheduled');
    expect(scheduled.map((e) => e.attributes)).toEqual([
      { 'shallot.retry.attempt': 2, 'shallot.retry.delay_ms': 5 },
      { 'shallot.retry.attempt': 3, 'shallot.retry.delay_ms': 5 },
    ]);
    expect(request.attributes).toMatchObject({ 'shallot.retry.attempts': 3, 'shallot.retry.exhausted': false, 'shallot.retry.delays_ms': [5, 5] });
  });

  it('marks 5xx as ERROR with error.type, leaves 4xx unset unless markClientErrors', async () => {
    server.route('/boom', { status: 502 }).route('/missing', { status: 404 });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    await using strict = compose().use(tracing({ tracerProvider, markClientErrors: true })).build({ baseUrl: server.url });
    await (await client.get('/boom')).text();
    await (await client.get('/missing')).text();
    await (await strict.get('/missing')).text();
    const [boom, missing, strictMissing] = exporter.getFinishedSpans();
    expect(boom?.status.code).toBe(SpanStatusCode.ERROR);
    expect(boom?.attributes['error.type']).toBe('502');
    expect(missing?.status.code).toBe(SpanStatusCode.UNSET);
    expect(missing?.attributes['error.type']).toBeUndefined();
    expect(missing?.attributes['http.response.status_code']).toBe(404);
    expect(strictMissing?.status.code).toBe(SpanStatusCode.ERROR);
    expect(strictMissing?.attributes['error.type']).toBe('404');
  });

  it('records a network error as error.type, an exception event and ERROR status', async () => {
    server.route('/reset', { action: 'reset' });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    const error = await client.get('/reset').catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ERR_NETWORK');
    const span = exporter.getFinishedSpans()[0] as ReadableSpan;
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('NetworkError');
    expect(span.attributes['http.response.status_code']).toBeUndefined();
    const exception = span.events.find((e) => e.name === 'exception');
    expect(exception?.attributes?.['exception.type']).toBe('NetworkError');
    expect(String(exception?.attributes?.['exception.message'])).toContain('/reset');
  });

  it('puts no secret in any attribute, event or status', async () => {
    server.route('/secret', { action: 'reset' });
    await using client = compose()
      .use(tracing({ tracerProvider, redactQueryParams: ['customer'], captureRequestHeaders: ['authorization', 'x-api-key', 'accept'] }))
      .use(retryOn5xx(2))
      .build();
    const url = `http://alice:SECRET-pw@127.0.0.1:${server.port}/secret?access_token=SECRET-t&page=2&customer=SECRET-c&sig=SECRET-s#id_token=SECRET-f`;
    await client.get(url, { headers: { authorization: 'Bearer SECRET-bearer', 'x-api-key': 'SECRET-key', accept: 'application/json' } }).catch(() => {});

    const span = exporter.getFinishedSpans()[0] as ReadableSpan;
    expect(span.attributes['url.full']).toBe(
      `http://127.0.0.1:${server.port}/secret?access_token=[REDACTED]&page=2&customer=[REDACTED]&sig=[REDACTED]#id_token=[REDACTED]`,
    );
    expect(span.attributes['http.request.header.authorization']).toEqual(['[REDACTED]']);
    expect(span.attributes['http.request.header.x-api-key']).toEqual(['[REDACTED]']);
    expect(span.attributes['http.request.header.accept']).toEqual(['application/json']);
    const everything = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, links: s.links })),
    );
    expect(everything).toContain('exception');
    expect(everything).not.toContain('SECRET');
  });

  it('names a span HTTP for a method outside the spec, keeping the original', async () => {
    server.route('/purge', { status: 204 });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    await client.request('PURGE', '/purge');
    const span = exporter.getFinishedSpans()[0] as ReadableSpan;
    expect(span.name).toBe('HTTP');
    expect(span.attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.request.method_original': 'PURGE', 'http.response.status_code': 204 });
  });

  it('records the response headers it is asked for, sensitive ones redacted', async () => {
    server.route('/login', { headers: { 'set-cookie': 'sid=SECRET-sid; HttpOnly', 'x-served-by': 'edge-1' }, json: {} });
    await using client = compose()
      .use(tracing({ tracerProvider, captureResponseHeaders: ['Set-Cookie', 'x-served-by', 'x-absent'] }))
      .build({ baseUrl: server.url });
    await (await client.post('/login')).text();
    const span = exporter.getFinishedSpans()[0] as ReadableSpan;
    expect(span.attributes['http.response.header.set-cookie']).toEqual(['[REDACTED]']);
    expect(span.attributes['http.response.header.x-served-by']).toEqual(['edge-1']);
    expect(span.attributes['http.response.header.x-absent']).toBeUndefined();
    expect(span.name).toBe('POST');
  });

  it('works without an SDK: nothing is exported and no traceparent is sent', async () => {
    server.route('/plain', { json: {} });
    await using client = compose().use(tracing()).build({ baseUrl: server.url });
    const { response, context: ctx } = await client.exchange('GET', '/plain');
    expect(response.status).toBe(200);
    expect(server.requests('/plain')[0]?.headers.traceparent).toBeUndefined();
    expect(ctx.trace.span.isRecording()).toBe(false);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('tracing(): what the other layers did', () => {
  it('records a cache hit, a rate-limit wait and an open circuit as attributes, events and counters', async () => {
    server.route('/layers', { json: {} });
    const fakeCache = defineMiddleware<{}, { cache: { status: string } }>(async function cache(ctx, next) {
      if (ctx.request.url.searchParams.has('cached')) {
        ctx.cache = { status: 'HIT' };
        return Response.json({ cached: true });
      }
      ctx.cache = { status: 'MISS' };
      return next();
    });
    const fakeLimiter = defineMiddleware<{}, { rateLimit: { key: string; waitedMs: number } }>(async function rateLimit(ctx, next) {
      ctx.rateLimit = { key: 'global', waitedMs: 12 };
      return next();
    });
    const fakeBreaker = defineMiddleware<{}, { circuitBreaker: { key: string; state: string } }>(async function circuitBreaker(ctx, next) {
      const open = ctx.request.url.searchParams.has('open');
      ctx.circuitBreaker = { key: '127.0.0.1', state: open ? 'open' : 'closed' };
      if (open) throw Object.assign(new Error('circuit open'), { name: 'CircuitBreakerOpenError', code: 'ERR_CIRCUIT_OPEN' });
      return next();
    });
    await using client = compose()
      .use(tracing({ tracerProvider, meterProvider }))
      .use(fakeCache)
      .use(fakeLimiter)
      .use(fakeBreaker)
      .build({ baseUrl: server.url });

    await (await client.get('/layers')).text();
    await (await client.get('/layers?cached=1')).text();
    await client.get('/layers?open=1').catch(() => {});
    expect(server.hits('/layers')).toBe(1);

    const [miss, hit, rejected] = exporter.getFinishedSpans();
    expect(miss?.attributes['shallot.cache.status']).toBe('MISS');
    expect(miss?.events.find((e) => e.name === 'shallot.rate_limit.wait')?.attributes).toEqual({
      'shallot.rate_limit.waited_ms': 12,
      'shallot.rate_limit.key': 'global',
    });
    expect(miss?.attributes['shallot.circuit_breaker.state']).toBe('closed');
    expect(hit?.attributes['shallot.cache.status']).toBe('HIT');
    expect(hit?.events.find((e) => e.name === 'shallot.cache.result')?.attributes).toEqual({ 'shallot.cache.status': 'HIT' });
    expect(hit?.attributes['network.protocol.version']).toBeUndefined();
    expect(rejected?.status.code).toBe(SpanStatusCode.ERROR);
    expect(rejected?.attributes['error.type']).toBe('CircuitBreakerOpenError');
    expect(rejected?.events.map((e) => e.name)).toEqual(expect.arrayContaining(['shallot.circuit_breaker.state_change', 'shallot.circuit_breaker.open']));
    expect(rejected?.events.find((e) => e.name === 'shallot.circuit_breaker.state_change')?.attributes).toMatchObject({
      'shallot.circuit_breaker.from': 'closed',
      'shallot.circuit_breaker.to': 'open',
    });

    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const points = (name: string) => all.find((m) => m.descriptor.name === name)?.dataPoints ?? [];
    const cache = points('shallot.client.cache.requests') as DataPoint<number>[];
    expect(Object.fromEntries(cache.map((p) => [p.attributes['shallot.cache.status'], p.value]))).toEqual({ MISS: 2, HIT: 1 });
    expect((points('shallot.client.rate_limit.waits') as DataPoint<number>[])[0]?.value).toBe(2);
    const transitions = points('shallot.client.circuit_breaker.transitions') as DataPoint<number>[];
    expect(transitions.map((p) => [p.attributes['shallot.circuit_breaker.state'], p.value])).toEqual([['open', 1]]);
  });

  it('records a hedge: a concurrent attempt gets its span and a shallot.hedge.sent event', async () => {
    server.route('/hedged', [{ delayMs: 300, json: { copy: 1 } }, { json: { copy: 2 } }]);
    const hedgeOnce = defineMiddleware<{}, { hedge: { hedges: number; winner: number } }>(async function hedge(ctx, next) {
      const controllers = [new AbortController(), new AbortController()];
      const first = next(fork(ctx, { signal: controllers[0]?.signal as AbortSignal })).then((r) => ({ r, i: 0 }));
      await ctx.clock.sleep(20);
      const second = next(fork(ctx, { signal: controllers[1]?.signal as AbortSignal })).then((r) => ({ r, i: 1 }));
      first.catch(() => {});
      second.catch(() => {});
      const winner = await Promise.any([first, second]);
      controllers[1 - winner.i]?.abort();
      ctx.hedge = { hedges: 1, winner: winner.i + 1 };
      return winner.r;
    });
    await using client = compose().use(tracing({ tracerProvider, meterProvider })).use(hedgeOnce).build({ baseUrl: server.url });
    const response = await client.get('/hedged');
    expect(await response.json()).toEqual({ copy: 2 });
    await waitFor(() => exporter.getFinishedSpans().length === 3);

    const request = rootSpans()[0] as ReadableSpan;
    expect(request.events.filter((e) => e.name === 'shallot.hedge.sent').map((e) => e.attributes)).toEqual([{ 'shallot.hedge.attempt': 2 }]);
    expect(request.events.some((e) => e.name === 'shallot.retry.scheduled')).toBe(false);
    expect(request.attributes).toMatchObject({ 'shallot.hedge.hedges': 1, 'shallot.hedge.winner': 2 });
    const attempts = childrenOf(request);
    expect(attempts).toHaveLength(2);
    const slow = attempts.find((s) => s.attributes['http.request.resend_count'] === undefined);
    const fast = attempts.find((s) => s.attributes['http.request.resend_count'] === 1);
    expect(fast?.attributes['http.response.status_code']).toBe(200);
    expect(slow?.status.code).toBe(SpanStatusCode.ERROR);
    const parents = server.requests('/hedged').map((r) => parentIdOf(String(r.headers.traceparent)));
    expect(parents).toEqual([request.spanContext().spanId, fast?.spanContext().spanId]);

    const { resourceMetrics } = await reader.collect();
    const hedges = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'shallot.client.hedges');
    expect((hedges?.dataPoints[0] as DataPoint<number>).value).toBe(1);
  });

  it('makes one span per pass when placed inside a retry loop, without piling up hooks', async () => {
    server.route('/inner', failTimes(2));
    await using client = compose().use(retryOn5xx(3, 1)).use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    const { context: ctx } = await client.exchange('GET', '/inner');
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(3);
    expect(spans.every((s) => s.parentSpanContext === undefined)).toBe(true);
    expect(spans.map((s) => s.attributes['http.response.status_code'])).toEqual([503, 503, 200]);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(3);
    expect(ctx.transportHooks ?? []).toHaveLength(0);
  });
});

describe('tracing(): placed inside a layer that forks', () => {
  it('gives each concurrent fork its own span, with no attempts of the sibling fork in it', async () => {
    server.route('/fan', { delayMs: 20, json: {} });
    const fanOut = defineMiddleware(async function fanOut(ctx, next) {
      const [first, second] = await Promise.all([next(fork(ctx)), next(fork(ctx))]);
      await second.arrayBuffer();
      return first;
    });
    // requestId() outside registers a transport hook first, so the forks share a hook list.
    await using client = compose().use(requestId()).use(fanOut).use(tracing({ tracerProvider })).build({ baseUrl: server.url });
    await (await client.get('/fan')).text();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    expect(spans.every((s) => s.parentSpanContext === undefined && s.attributes['http.response.status_code'] === 200)).toBe(true);
    const sent = server.requests('/fan').map((r) => parentIdOf(String(r.headers.traceparent))).sort();
    expect(sent).toEqual(spans.map((s) => s.spanContext().spanId).sort());
  });
});

describe('tracing(): metrics', () => {
  it('records each request in http.client.request.duration (seconds, semconv buckets) and settles active requests to 0', async () => {
    server.route('/ok', { json: {} }).route('/fail', { status: 500 }).route('/slow', { delayMs: 40, json: {} });
    await using client = compose().use(tracing({ tracerProvider, meterProvider })).build({ baseUrl: server.url });
    await (await client.get('/ok')).text();
    await (await client.get('/ok')).text();
    await (await client.get('/fail')).text();

    const pending = client.get('/slow');
    await waitFor(() => server.hits('/slow') === 1);
    const during = await reader.collect();
    const activeDuring = during.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'http.client.active_requests');
    expect((activeDuring?.dataPoints as DataPoint<number>[]).reduce((sum, p) => sum + p.value, 0)).toBe(1);
    await (await pending).text();

    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const duration = all.find((m) => m.descriptor.name === 'http.client.request.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const points = duration?.dataPoints as DataPoint<Histogram>[];
    expect(points.reduce((sum, p) => sum + p.value.count, 0)).toBe(4);
    const byStatus = Object.fromEntries(points.map((p) => [p.attributes['http.response.status_code'], p.value.count]));
    expect(byStatus).toEqual({ 200: 3, 500: 1 });
    const failed = points.find((p) => p.attributes['http.response.status_code'] === 500);
    expect(failed?.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': server.port, 'error.type': '500' });
    expect(points[0]?.value.buckets.boundaries).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]);
    // Seconds, not milliseconds: the 40 ms request is recorded as about 0.04.
    const max = Math.max(...points.map((p) => p.value.max ?? 0));
    expect(max).toBeGreaterThanOrEqual(0.035);
    expect(max).toBeLessThan(5);
    const active = all.find((m) => m.descriptor.name === 'http.client.active_requests');
    expect((active?.dataPoints as DataPoint<number>[]).reduce((sum, p) => sum + p.value, 0)).toBe(0);
  });

  it('counts retries', async () => {
    server.route('/again', failTimes(1));
    await using client = compose().use(tracing({ tracerProvider, meterProvider })).use(retryOn5xx(3, 1)).build({ baseUrl: server.url });
    await (await client.get('/again')).text();
    const { resourceMetrics } = await reader.collect();
    const retries = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'shallot.client.retries');
    expect((retries?.dataPoints[0] as DataPoint<number>).value).toBe(1);
  });
});

describe('tracing(): transport instrumentation', () => {
  /** A stand-in for @opentelemetry/instrumentation-undici: spans every send unless tracing is suppressed. */
  function instrumentedTransport(): Transport {
    const inner = undiciTransport();
    const tracer = tracerProvider.getTracer('@opentelemetry/instrumentation-undici');
    return {
      name: 'instrumented-undici',
      async send(ctx) {
        if (isTracingSuppressed(context.active())) return inner.send(ctx);
        const span: Span = tracer.startSpan('GET', { kind: SpanKind.CLIENT });
        try {
          return await inner.send(ctx);
        } finally {
          span.end();
        }
      },
      close: () => inner.close(),
    };
  }

  it('suppresses a second span from an instrumented transport by default', async () => {
    server.route('/dup', { json: {} });
    await using client = compose().use(tracing({ tracerProvider })).build({ baseUrl: server.url, transport: instrumentedTransport() });
    await (await client.get('/dup')).text();
    expect(exporter.getFinishedSpans().map((s) => s.instrumentationScope.name)).toEqual(['@shallot/tracing']);
  });

  it('lets the transport span nest under the request span with suppressTransportInstrumentation: false', async () => {
    server.route('/dup', { json: {} });
    await using client = compose()
      .use(tracing({ tracerProvider, suppressTransportInstrumentation: false }))
      .build({ baseUrl: server.url, transport: instrumentedTransport() });
    await (await client.get('/dup')).text();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(2);
    const ours = spans.find((s) => s.instrumentationScope.name === '@shallot/tracing');
    const theirs = spans.find((s) => s.instrumentationScope.name !== '@shallot/tracing');
    expect(theirs?.parentSpanContext?.spanId).toBe(ours?.spanContext().spanId);
  });
});

describe('tracing(): logs and options', () => {
  it('writes redacted debug lines for the request and each attempt', async () => {
    server.route('/logged', failTimes(1));
    const lines: { fields: Record<string, unknown>; message: string | undefined }[] = [];
    const write = (fields: object | string, message?: string): void => {
      lines.push(typeof fields === 'string' ? { fields: {}, message: fields } : { fields: fields as Record<string, unknown>, message });
    };
    const logger: Logger = { debug: write, info: write, warn: write, error: write };
    await using client = compose().use(tracing({ tracerProvider })).use(retryOn5xx(3, 1)).build({ baseUrl: server.url, logger });
    await (await client.get('/logged?api_key=SECRET-k')).text();
    expect(lines.map((l) => l.message)).toEqual(['shallot request started', 'shallot attempt settled', 'shallot attempt settled', 'shallot request settled']);
    expect(lines.map((l) => l.fields.status)).toEqual([undefined, 503, 200, 200]);
    expect(lines[3]?.fields).toMatchObject({ attempts: 2, url: `${server.url}/logged?api_key=[REDACTED]` });
    expect(JSON.stringify(lines)).not.toContain('SECRET');
  });

  it('rejects bad options with InvalidOptionsError naming the path', () => {
    let error: unknown;
    try {
      tracing({ redactQueryParams: 'token' as unknown as string[] });
    } catch (e) {
      error = e;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toContain('tracing.redactQueryParams');
    expect(() => tracing({ tracerProvider: {} as never })).toThrow(/tracing.tracerProvider: expected a TracerProvider/);
    expect(() => tracing({ bogus: true } as never)).toThrow(/unknown option 'bogus'/);
  });

  it('shows its name and resolved options in describe()', () => {
    const client = compose().use(tracing({ markClientErrors: true })).build({ transport: undiciTransport() });
    const [layer] = client.describe();
    expect(layer?.name).toBe('tracing');
    expect(layer?.options).toMatchObject({ markClientErrors: true, suppressTransportInstrumentation: true, redactQueryParams: [] });
    return client.close();
  });
});
