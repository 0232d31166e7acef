import {
  type Attributes,
  type Context as OtelContext,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { type BaseContext, type Logger, responseProtocol, silentLogger } from '@shallot/core';
import { attr, errorType, headerAttributes, requestAttributes, spanName } from './http-attributes.js';
import type { Instruments } from './instruments.js';
import { type BreakerStates, type RateLimitSeen, recordLayers, recordRateLimitWait, retryDelayMs } from './layer-events.js';
import type { ResolvedTracingOptions } from './options.js';
import { type RedactionOptions, redactText, redactUrl } from '@shallot/core';
import { suppressTracing } from './suppress-tracing.js';

/** What one `tracing()` layer shares across its requests. */
export interface TracingRuntime {
  readonly tracer: Tracer;
  readonly options: ResolvedTracingOptions;
  readonly redaction: RedactionOptions;
  readonly breakers: BreakerStates;
}

const headerSetter: TextMapSetter<Headers> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** The HTTP version a response came over, as the transport told (`2` with undici's allowH2), else 1.1. */
const protocolVersion = (response: Response): string => responseProtocol(response) ?? '1.1';

/** False when debug lines would go nowhere, so none is built. */
export function debugEnabled(log: Logger): boolean {
  if (log === silentLogger) return false;
  const isLevelEnabled = (log as { isLevelEnabled?: unknown }).isLevelEnabled;
  return typeof isLevelEnabled !== 'function' || (isLevelEnabled as (level: string) => boolean).call(log, 'debug');
}

interface Attempt {
  readonly n: number;
  readonly start: number;
  readonly method: string;
  readonly url: URL;
  readonly headers: Headers;
  end: number | undefined;
  span: Span | undefined;
  response: Response | undefined;
  error: unknown;
}

/**
 * The trace of one logical request: its CLIENT span, and the attempts the transport sent.
 *
 * A request sent once gets one span. When a second attempt starts (a retry, a hedge, an auth
 * replay), each attempt gets a child span: the second and later ones as they start, the first
 * one then, after the fact, with its real start time (and end, if it had ended). The first
 * attempt's `traceparent` therefore names the request span: it was on the wire before anyone
 * knew a second attempt would follow.
 */
export class RequestTrace {
  readonly #runtime: TracingRuntime;
  readonly #ctx: BaseContext;
  readonly #span: Span;
  readonly #spanContext: OtelContext;
  readonly #instruments: Instruments;
  readonly #metricAttributes: Attributes;
  readonly #start: number;
  readonly #attempts: Attempt[] = [];
  readonly #rateLimit: RateLimitSeen = { report: undefined, waitedMs: undefined };
  readonly #href: string;
  readonly #fullUrl: string;
  #inFlight = 0;

  constructor(runtime: TracingRuntime, ctx: BaseContext, parent: OtelContext, instruments: Instruments, metricAttributes: Attributes) {
    this.#runtime = runtime;
    this.#ctx = ctx;
    this.#instruments = instruments;
    this.#metricAttributes = metricAttributes;
    this.#start = ctx.clock.now();
    const { method, url, headers } = ctx.request;
    this.#href = url.href;
    this.#fullUrl = redactUrl(url, runtime.redaction);
    this.#span = runtime.tracer.startSpan(
      spanName(method),
      {
        kind: SpanKind.CLIENT,
        startTime: this.#start,
        attributes: {
          ...requestAttributes(method, url, this.#fullUrl),
          ...headerAttributes('http.request.header', runtime.options.captureRequestHeaders, headers, runtime.redaction),
        },
      },
      parent,
    );
    this.#spanContext = trace.setSpan(parent, this.#span);
  }

  /** The request span. */
  get span(): Span {
    return this.#span;
  }

  /** The OpenTelemetry context with the request span active. */
  get context(): OtelContext {
    return this.#spanContext;
  }

  /** `url.full` of the request: redacted once, reused by attempts to the same URL and by logs. */
  get fullUrl(): string {
    return this.#fullUrl;
  }

  #redacted(url: URL): string {
    return url.href === this.#href ? this.#fullUrl : redactUrl(url, this.#runtime.redaction);
  }

  /** The transport hook: wraps every attempt of this request. */
  readonly hook = (attemptCtx: BaseContext, send: () => Promise<Response>): Promise<Response> => {
    const clock = attemptCtx.clock;
    const { method, url, headers } = attemptCtx.request;
    const attempt: Attempt = {
      n: this.#attempts.length + 1,
      start: clock.now(),
      method,
      url,
      headers,
      end: undefined,
      span: undefined,
      response: undefined,
      error: undefined,
    };
    this.#attempts.push(attempt);
    let carrier = this.#spanContext;
    if (attempt.n > 1) {
      if (attempt.n === 2) this.#promoteFirst();
      attempt.span = this.#startAttemptSpan(attempt);
      carrier = trace.setSpan(this.#spanContext, attempt.span);
      const previous = this.#attempts[attempt.n - 2] as Attempt;
      if (this.#inFlight > 0) {
        this.#span.addEvent('shallot.hedge.sent', { 'shallot.hedge.attempt': attempt.n }, attempt.start);
        this.#instruments.hedges.add(1, this.#metricAttributes);
      } else {
        const delay = retryDelayMs(attemptCtx, attempt.n) ?? Math.max(0, attempt.start - (previous.end ?? attempt.start));
        this.#span.addEvent('shallot.retry.scheduled', { 'shallot.retry.attempt': attempt.n, 'shallot.retry.delay_ms': delay }, previous.end ?? attempt.start);
        this.#instruments.retries.add(1, this.#metricAttributes);
      }
    }
    recordRateLimitWait(attemptCtx, this.#span, this.#rateLimit, this.#instruments, this.#metricAttributes, attempt.start);
    const propagator = this.#runtime.options.propagator;
    if (propagator === undefined) propagation.inject(carrier, headers, headerSetter);
    else propagator.inject(carrier, headers, headerSetter);
    this.#inFlight++;
    const run = this.#runtime.options.suppressTransportInstrumentation ? suppressTracing(carrier) : carrier;
    return context.with(run, send).then(
      (response) => {
        attempt.response = response;
        this.#endAttempt(attempt, attemptCtx);
        return response;
      },
      (error: unknown) => {
        attempt.error = error ?? new Error('attempt failed');
        this.#endAttempt(attempt, attemptCtx);
        throw error;
      },
    );
  };

  #startAttemptSpan(attempt: Attempt): Span {
    const { options, redaction, tracer } = this.#runtime;
    const attributes: Attributes = {
      ...requestAttributes(attempt.method, attempt.url, this.#redacted(attempt.url)),
      ...headerAttributes('http.request.header', options.captureRequestHeaders, attempt.headers, redaction),
    };
    if (attempt.n > 1) attributes[attr.resendCount] = attempt.n - 1;
    return tracer.startSpan(spanName(attempt.method), { kind: SpanKind.CLIENT, startTime: attempt.start, attributes }, this.#spanContext);
  }

  /** Gives the first attempt its own span once a second one shows it was not the only one. */
  #promoteFirst(): void {
    const first = this.#attempts[0] as Attempt;
    first.span = this.#startAttemptSpan(first);
    if (first.end !== undefined) this.#finishSpan(first.span, first.response, first.error, first.end, true);
  }

  #endAttempt(attempt: Attempt, attemptCtx: BaseContext): void {
    this.#inFlight--;
    attempt.end = attemptCtx.clock.now();
    if (attempt.span !== undefined) this.#finishSpan(attempt.span, attempt.response, attempt.error, attempt.end, true);
    if (!debugEnabled(attemptCtx.log)) return;
    const fields: Record<string, unknown> = {
      traceId: this.#span.spanContext().traceId,
      attempt: attempt.n,
      method: attempt.method,
      url: this.#redacted(attempt.url),
      durationMs: attempt.end - attempt.start,
    };
    if (attempt.response !== undefined) fields.status = attempt.response.status;
    else fields.error = errorType(attempt.error);
    attemptCtx.log.debug(fields, 'shallot attempt settled');
  }

  /** Sets the outcome of a span (the request's or an attempt's) and ends it. */
  #finishSpan(span: Span, response: Response | undefined, error: unknown, end: number, sent: boolean): void {
    const { options, redaction } = this.#runtime;
    if (response !== undefined) {
      const status = response.status;
      span.setAttribute(attr.statusCode, status);
      if (sent) span.setAttribute(attr.protocolVersion, protocolVersion(response));
      // Only when asked: reading `headers` makes a lazy transport Response build them.
      if (options.captureResponseHeaders.length > 0) {
        span.setAttributes(headerAttributes('http.response.header', options.captureResponseHeaders, response.headers, redaction));
      }
      if (status >= 500 || (options.markClientErrors && status >= 400)) {
        span.setAttribute(attr.errorType, String(status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    } else {
      const type = errorType(error);
      const message = error instanceof Error ? error.message : String(error);
      span.setAttribute(attr.errorType, type);
      const exception: Attributes = { 'exception.type': type, 'exception.message': redactText(message, redaction) };
      if (error instanceof Error && error.stack !== undefined) exception['exception.stacktrace'] = redactText(error.stack, redaction);
      span.addEvent('exception', exception, end);
      span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(message, redaction) });
    }
    span.end(end);
  }

  /** Ends the request span with the outcome of the whole call, records its metrics and logs it. */
  finish(response: Response | undefined, error: unknown): void {
    const ctx = this.#ctx;
    const end = ctx.clock.now();
    const sent = this.#attempts.length > 0;
    recordLayers(ctx, this.#span, error, this.#runtime.breakers, this.#rateLimit, this.#instruments, this.#metricAttributes, end);
    this.#finishSpan(this.#span, response, response === undefined ? (error ?? new Error('request failed')) : undefined, end, sent);

    const attributes: Attributes = { ...this.#metricAttributes };
    if (response !== undefined) {
      attributes[attr.statusCode] = response.status;
      if (sent) attributes[attr.protocolVersion] = protocolVersion(response);
      if (response.status >= 500 || (this.#runtime.options.markClientErrors && response.status >= 400)) attributes[attr.errorType] = String(response.status);
    } else {
      attributes[attr.errorType] = errorType(error);
    }
    this.#instruments.duration.record(Math.max(0, end - this.#start) / 1000, attributes);

    if (!debugEnabled(ctx.log)) return;
    const fields: Record<string, unknown> = {
      traceId: this.#span.spanContext().traceId,
      method: ctx.request.method,
      url: this.#redacted(ctx.request.url),
      attempts: this.#attempts.length,
      durationMs: end - this.#start,
    };
    if (response !== undefined) fields.status = response.status;
    else {
      fields.error = errorType(error);
      fields.message = redactText(error instanceof Error ? error.message : String(error), this.#runtime.redaction);
    }
    ctx.log.debug(fields, 'shallot request settled');
  }
}
