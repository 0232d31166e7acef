// tracing() and metrics() around the real shallot layers, read structurally (this package
// imports none of them at run time): what each layer did shows up on the request span.
import { SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { cache } from '@shallot/cache';
import { circuitBreaker } from '@shallot/circuit-breaker';
import { compose, type Middleware } from '@shallot/core';
import { hedge } from '@shallot/hedge';
import { rateLimit } from '@shallot/rate-limit';
import { retry } from '@shallot/retry';
import { createTestServer, failTimes, type TestServer } from '@shallot/testing';
import { metrics, requestId, tracing } from '@shallot/tracing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let server: TestServer;
let exporter: InMemorySpanExporter;
let tracerProvider: BasicTracerProvider;
let reader: TestMetricReader;
let meterProvider: MeterProvider;

beforeAll(async () => {
  server = await createTestServer();
});
afterAll(() => server.close());
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

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

async function counter(name: string): Promise<number> {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return ((metric?.dataPoints ?? []) as DataPoint<number>[]).reduce((sum, p) => sum + p.value, 0);
}

describe('tracing() with @shallot/retry', () => {
  it('one child span per attempt, the delays retry chose as events, the same request id on each attempt', async () => {
    server.route('/flaky', failTimes(2));
    const stats = metrics();
    await using client = compose()
      .use(requestId())
      // No global propagator is registered in this file: the propagator is passed as an option.
      .use(tracing({ tracerProvider, meterProvider, propagator: new W3CTraceContextPropagator() }))
      .use(stats)
      .use(retry({ maxAttempts: 4, backoff: { kind: 'constant', delayMs: 10 } }))
      .build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/flaky');
    expect(response.status).toBe(200);
    expect(server.hits('/flaky')).toBe(3);

    const [request] = rootSpans();
    const attempts = childrenOf(request as ReadableSpan);
    expect(attempts.map((s) => s.attributes['http.request.resend_count']).sort()).toEqual([1, 2, undefined]);
    expect(request?.events.filter((e) => e.name === 'shallot.retry.scheduled').map((e) => e.attributes?.['shallot.retry.delay_ms'])).toEqual([10, 10]);
    expect(request?.attributes).toMatchObject({ 'shallot.retry.attempts': 3, 'shallot.retry.exhausted': false, 'http.response.status_code': 200 });
    expect(server.requests('/flaky').map((r) => r.headers['x-request-id'])).toEqual([context.requestId, context.requestId, context.requestId]);
    const traceparents = server.requests('/flaky').map((r) => String(r.headers.traceparent));
    expect(new Set(traceparents).size).toBe(3);
    for (const tp of traceparents) expect(tp.split('-')[1]).toBe(request?.spanContext().traceId);
    expect(await counter('shallot.client.retries')).toBe(2);
    expect(stats.snapshot().hosts[`127.0.0.1:${server.port}`]).toMatchObject({ requests: 1, attempts: 3, statusCodes: { 200: 1 } });
  });
});

describe('tracing() with @shallot/hedge', () => {
  it('a hedge gets its own attempt span and a shallot.hedge.sent event; ctx.hedge becomes attributes', async () => {
    server.route('/slow-first', [{ delayMs: 400, json: { copy: 1 } }, { json: { copy: 2 } }]);
    await using client = compose()
      .use(tracing({ tracerProvider, meterProvider }))
      .use(hedge({ delayMs: 30 }))
      .build({ baseUrl: server.url });
    const response = await client.get('/slow-first');
    expect(await response.json()).toEqual({ copy: 2 });
    await waitFor(() => exporter.getFinishedSpans().length === 3);

    const [request] = rootSpans();
    expect(request?.events.filter((e) => e.name === 'shallot.hedge.sent')).toHaveLength(1);
    expect(request?.attributes).toMatchObject({ 'shallot.hedge.hedged': true, 'shallot.hedge.copies': 2, 'shallot.hedge.winner': 1 });
    const attempts = childrenOf(request as ReadableSpan);
    expect(attempts).toHaveLength(2);
    expect(attempts.find((s) => s.attributes['http.request.resend_count'] === 1)?.attributes['http.response.status_code']).toBe(200);
    expect(await counter('shallot.client.hedges')).toBe(1);
  });
});

// The layers below are typed as plain Middleware: at the time of writing compose().use() does not
// infer the intersection types (Middleware & Controls) that circuitBreaker(), rateLimit() and
// cache() return.
describe('tracing() with @shallot/circuit-breaker, @shallot/rate-limit and @shallot/cache', () => {
  it('records the breaker opening and rejecting', async () => {
    server.route('/down', { status: 503 });
    const breaker: Middleware = circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 60_000 });
    await using client = compose()
      .use(tracing({ tracerProvider, meterProvider }))
      .use(breaker)
      .build({ baseUrl: server.url });
    await (await client.get('/down')).text();
    const rejected = await client.get('/down').catch((e: unknown) => e);
    expect((rejected as { code?: string }).code).toBe('ERR_CIRCUIT_OPEN');
    expect(server.hits('/down')).toBe(1);

    const [tripped, failedFast] = exporter.getFinishedSpans();
    expect(tripped?.attributes['shallot.circuit_breaker.state']).toBe('open');
    expect(tripped?.events.some((e) => e.name === 'shallot.circuit_breaker.open')).toBe(true);
    expect(failedFast?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failedFast?.attributes['error.type']).toBe('CircuitBreakerOpenError');
    expect(failedFast?.events.find((e) => e.name === 'shallot.circuit_breaker.open')?.attributes?.['shallot.circuit_breaker.rejected']).toBe(true);
  });

  it('records rate-limit waits', async () => {
    server.route('/limited', { json: {} });
    const limiter: Middleware = rateLimit({ limit: 1, intervalMs: 60, burst: 1, mode: 'wait' });
    await using client = compose()
      .use(tracing({ tracerProvider, meterProvider }))
      .use(limiter)
      .build({ baseUrl: server.url });
    await Promise.all([1, 2, 3].map(async () => (await client.get('/limited')).text()));
    const waits = exporter.getFinishedSpans().flatMap((s) => s.events.filter((e) => e.name === 'shallot.rate_limit.wait'));
    // Three at once through one token per 60 ms: at least the last one waited.
    expect(waits.length).toBeGreaterThanOrEqual(1);
    for (const wait of waits) expect(Number(wait.attributes?.['shallot.rate_limit.waited_ms'])).toBeGreaterThanOrEqual(1);
    expect(await counter('shallot.client.rate_limit.waits')).toBe(waits.length);
  });

  it('records cache misses and hits', async () => {
    server.route('/cached', { headers: { 'cache-control': 'max-age=60' }, json: { n: 1 } });
    const cacheLayer: Middleware<{}, { cache: { status: string } }> = cache();
    await using client = compose()
      .use(tracing({ tracerProvider, meterProvider }))
      .use(cacheLayer)
      .build({ baseUrl: server.url });
    await (await client.get('/cached')).text();
    await (await client.get('/cached')).text();
    expect(server.hits('/cached')).toBe(1);
    expect(exporter.getFinishedSpans().map((s) => s.attributes['shallot.cache.status'])).toEqual(['MISS', 'HIT']);
    expect(await counter('shallot.client.cache.requests')).toBe(2);
  });
});
