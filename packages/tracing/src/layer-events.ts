import type { Attributes, AttributeValue, Span } from '@opentelemetry/api';
import type { BaseContext } from '@shallot/core';
import type { Instruments } from './instruments.js';
import { redactText } from '@shallot/core';

/**
 * Reads what the other layers left on the context (`ctx.retry`, `ctx.cache`,
 * `ctx.circuitBreaker`, `ctx.rateLimit`, `ctx.hedge`) structurally: this package imports none
 * of them, and a layer that is absent or shaped differently is simply not reported.
 */

type Bag = Record<string, unknown>;

function bag(ctx: BaseContext, key: string): Bag | undefined {
  const value = (ctx as unknown as Bag)[key];
  return typeof value === 'object' && value !== null ? (value as Bag) : undefined;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const bool = (value: unknown): boolean | undefined => (typeof value === 'boolean' ? value : undefined);

/** The delay the retry layer chose before attempt `attempt` (2-based), when it says. */
export function retryDelayMs(ctx: BaseContext, attempt: number): number | undefined {
  const delays = bag(ctx, 'retry')?.delaysMs;
  return Array.isArray(delays) ? num(delays[attempt - 2]) : undefined;
}

/** The state of one rate-limit report already recorded, so it is not recorded twice. */
export interface RateLimitSeen {
  report: Bag | undefined;
  waitedMs: number | undefined;
}

/**
 * Waits shorter than this are the limiter's own bookkeeping (its store lookup), not a wait for a
 * token: `waitedMs` is measured from when the limiter started to when it let the request go.
 */
const minWaitMs = 1;

/** Records a rate-limit wait (`ctx.rateLimit.waitedMs >= 1`) once per report. */
export function recordRateLimitWait(
  ctx: BaseContext,
  span: Span,
  seen: RateLimitSeen,
  instruments: Instruments,
  attributes: Attributes,
  at: number,
): void {
  const report = bag(ctx, 'rateLimit');
  const waitedMs = num(report?.waitedMs);
  if (report === undefined || waitedMs === undefined || waitedMs < minWaitMs) return;
  if (seen.report === report && seen.waitedMs === waitedMs) return;
  seen.report = report;
  seen.waitedMs = waitedMs;
  const event: Attributes = { 'shallot.rate_limit.waited_ms': waitedMs };
  const key = str(report.key);
  if (key !== undefined) event['shallot.rate_limit.key'] = redactText(key);
  span.addEvent('shallot.rate_limit.wait', event, at);
  instruments.limiterWaits.add(1, attributes);
  instruments.limiterWaitDuration.record(waitedMs / 1000, attributes);
}

/** A bounded map of the last breaker state seen per key, to count state changes. */
export class BreakerStates {
  readonly #states = new Map<string, string>();
  readonly #max: number;

  constructor(max = 1000) {
    this.#max = max;
  }

  /** Stores `state` for `key` and returns the state it replaces, if any. */
  swap(key: string, state: string): string | undefined {
    const previous = this.#states.get(key);
    if (previous !== undefined) this.#states.delete(key);
    this.#states.set(key, state);
    if (this.#states.size > this.#max) {
      const oldest = this.#states.keys().next().value;
      if (oldest !== undefined) this.#states.delete(oldest);
    }
    return previous;
  }
}

function primitive(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number' && Number.isFinite(v))) return value as number[];
  return undefined;
}

/**
 * After the request settled: the retry summary, the cache status, the breaker state (and
 * changes), a rate-limit wait not seen by an attempt, and the hedge report, as attributes and
 * events on the request span and as counters.
 */
export function recordLayers(
  ctx: BaseContext,
  span: Span,
  error: unknown,
  breakers: BreakerStates,
  seen: RateLimitSeen,
  instruments: Instruments,
  attributes: Attributes,
  at: number,
): void {
  const retry = bag(ctx, 'retry');
  if (retry !== undefined) {
    const attempts = num(retry.attempt);
    if (attempts !== undefined) span.setAttribute('shallot.retry.attempts', attempts);
    const exhausted = bool(retry.exhausted);
    if (exhausted !== undefined) span.setAttribute('shallot.retry.exhausted', exhausted);
    const budget = bool(retry.budgetExhausted);
    if (budget !== undefined) span.setAttribute('shallot.retry.budget_exhausted', budget);
    const delays = primitive(retry.delaysMs);
    if (Array.isArray(delays)) span.setAttribute('shallot.retry.delays_ms', delays);
  }

  const cacheStatus = str(bag(ctx, 'cache')?.status);
  if (cacheStatus !== undefined) {
    span.setAttribute('shallot.cache.status', cacheStatus);
    span.addEvent('shallot.cache.result', { 'shallot.cache.status': cacheStatus }, at);
    instruments.cacheRequests.add(1, { ...attributes, 'shallot.cache.status': cacheStatus });
  }

  const breaker = bag(ctx, 'circuitBreaker');
  const state = str(breaker?.state);
  const rejected = typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'ERR_CIRCUIT_OPEN';
  if (state !== undefined || rejected) {
    const key = str(breaker?.key) ?? String(attributes['server.address'] ?? '');
    const event: Attributes = { 'shallot.circuit_breaker.key': redactText(key) };
    if (state !== undefined) {
      span.setAttribute('shallot.circuit_breaker.state', state);
      const previous = breakers.swap(key, state);
      if (previous !== undefined && previous !== state) {
        span.addEvent('shallot.circuit_breaker.state_change', { ...event, 'shallot.circuit_breaker.from': previous, 'shallot.circuit_breaker.to': state }, at);
        instruments.breakerTransitions.add(1, { ...attributes, 'shallot.circuit_breaker.state': state });
      }
    }
    if (state === 'open' || rejected) {
      span.addEvent('shallot.circuit_breaker.open', { ...event, 'shallot.circuit_breaker.rejected': rejected }, at);
    }
  }

  recordRateLimitWait(ctx, span, seen, instruments, attributes, at);

  const hedge = bag(ctx, 'hedge');
  if (hedge !== undefined) {
    for (const [field, value] of Object.entries(hedge)) {
      const attribute = primitive(value);
      if (attribute !== undefined) span.setAttribute(`shallot.hedge.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, attribute);
    }
  }
}
