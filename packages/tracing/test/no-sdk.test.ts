import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { compose } from '@shallot/core';
import { createTestServer } from '@shallot/testing';
import { tracing } from '@shallot/tracing';
import { afterEach, describe, expect, it } from 'vitest';

afterEach(() => {
  trace.disable();
  propagation.disable();
});

describe('tracing() without an SDK', () => {
  it('builds nothing and sends nothing while no SDK or propagator is registered, and picks one up when it is', async () => {
    await using server = await createTestServer();
    server.route('/x', { json: {} });
    await using client = compose().use(tracing()).build({ baseUrl: server.url });

    const idle = await client.exchange('GET', '/x');
    await idle.response.json();
    expect(idle.context.trace.traceId).toBe('0'.repeat(32));
    expect(idle.context.trace.span.isRecording()).toBe(false);
    expect(server.requests('/x')[0]?.headers.traceparent).toBeUndefined();

    // Registered after the client was built: the next request is traced.
    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const traced = await client.exchange('GET', '/x');
    await traced.response.json();
    expect(traced.context.trace.traceId).not.toBe('0'.repeat(32));
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(server.requests('/x')[1]?.headers.traceparent).toContain(traced.context.trace.traceId);
  });
});
