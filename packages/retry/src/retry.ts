import { randomUUID } from 'node:crypto';
import { abortReason, BodyNotReplayableError, type Context, defineMiddleware, Listeners, type Middleware, type Next, parseOptions } from '@shallot/core';
import { type BackoffState, createBackoff } from './backoff.js';
import { MaxRetriesExceededError } from './errors.js';
import type { GiveUpEvent, GiveUpReason, RetryEvent, Subscription } from './events.js';
import { type RetryOptions, retryOptionsSchema } from './options.js';
import { releaseBody } from './release-body.js';
import { parseRetryAfter } from './retry-after.js';

/** What `retry()` records on `ctx.retry`. */
export interface RetryContext {
  /** The attempt in flight, or the last one made (1-based). */
  attempt: number;
  /** The waits made before each retry, in ms, oldest first. */
  delaysMs: readonly number[];
  /** True when retrying stopped on an outcome that was retryable (attempts, budget, deadline, Retry-After). */
  exhausted: boolean;
  /** True when the retry budget refused a retry. */
  budgetExhausted: boolean;
}

/** The events of a `retry()` middleware. */
export interface RetryEvents {
  /** Listens to every retry, before its wait. */
  onRetry(listener: (event: RetryEvent) => void): Subscription;
  /** Listens to retrying stopping on an outcome that was retryable. */
  onGiveUp(listener: (event: GiveUpEvent) => void): Subscription;
}

/** The middleware `retry()` returns: it provides `ctx.retry` and has its events. */
export interface RetryMiddleware extends Middleware<{}, { retry: RetryContext }>, RetryEvents {}

type RetryCtx = Context<{ retry?: RetryContext }>;

const noDelays: readonly number[] = Object.freeze([]);
const retryableTimeouts = new Set(['connect', 'attempt', 'read']);

// Errors that are retried by default, matched by code so that any installed copy counts.
function isRetryableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (code === 'ERR_NETWORK') return true;
  if (code === 'ERR_TIMEOUT') return retryableTimeouts.has((error as { kind?: unknown }).kind as string);
  return false;
}

/**
 * Retries failed attempts with backoff. Each retry runs every inner layer again (auth, hooks,
 * tracing see each try). It retries network errors, connect/attempt/read timeouts and
 * `retryOnStatus` responses of idempotent requests; never the caller's abort or an expired
 * deadline, an open circuit, a rate-limit refusal or a 4xx other than 408 and 429. POST and
 * PATCH are retried only when listed in `methods` or carrying an `Idempotency-Key`.
 *
 * `Retry-After` (429, 503) is honoured; a wait longer than `maxRetryAfterMs` or than the time
 * left before the deadline gives up at once. Every wait is abortable and counted against the
 * deadline. On errors exhausted it throws `MaxRetriesExceededError` (`cause` = last error); on
 * statuses exhausted it returns the last response. `ctx.retry` tells what happened.
 *
 * Place it inside `timeout({ totalMs })` and outside `timeout({ attemptMs })`.
 *
 * @example
 * const client = compose()
 *   .use(timeout({ totalMs: 10_000 }))
 *   .use(retry({ maxAttempts: 4, backoff: { initialMs: 300 } }))
 *   .use(timeout({ attemptMs: 2_000 }))
 *   .build();
 */
export function retry(options: RetryOptions = {}): RetryMiddleware {
  const resolved = parseOptions(retryOptionsSchema, options, 'retry');
  const { maxAttempts, respectRetryAfter, maxRetryAfterMs, idempotencyKey, budget, shouldRetry } = resolved;
  const statuses = new Set(resolved.retryOnStatus);
  const methods = new Set(resolved.methods);
  const backoff = createBackoff(resolved.backoff);
  const retried = new Listeners<RetryEvent>('retry', 'onRetry');
  const gaveUp = new Listeners<GiveUpEvent>('retry', 'onGiveUp');
  if (resolved.onRetry !== undefined) retried.add(resolved.onRetry);
  if (resolved.onGiveUp !== undefined) gaveUp.add(resolved.onGiveUp);

  const eligible = (ctx: RetryCtx): boolean => methods.has(ctx.request.method) || ctx.request.headers.has('idempotency-key');

  // The slow path: runs once the first attempt has an outcome worth a second look.
  async function retryLoop(ctx: RetryCtx, next: Next, state: RetryContext, first: Response | undefined, firstError: unknown, failedFirst: boolean): Promise<Response> {
    let response = first;
    let error = firstError;
    let failed = failedFirst;
    let backoffState: BackoffState | undefined;
    const canRetryMethod = eligible(ctx);
    for (let attempt = 1; ; attempt++) {
      // Outcome of `attempt`: decide.
      if (ctx.aborted) {
        if (failed) throw error;
        return response as Response;
      }
      let retryable = failed ? canRetryMethod && isRetryableError(error) : canRetryMethod && statuses.has((response as Response).status);
      if (shouldRetry !== undefined) {
        const outcome = failed ? { attempt, error, retryable } : { attempt, response: response as Response, retryable };
        try {
          retryable = await shouldRetry(ctx, outcome);
        } catch (thrown) {
          releaseBody(response)();
          throw thrown;
        }
      }
      if (!retryable) {
        if (failed) throw error;
        return response as Response;
      }

      let reason: GiveUpReason | undefined;
      let delayMs = 0;
      const body = ctx.request.body;
      if (attempt >= maxAttempts) reason = 'attempts';
      else if (body !== null && !body.replayable && body.sends > 0) reason = 'body-not-replayable';
      else {
        const step = { attempt, ctx };
        backoffState = backoffState === undefined ? backoff.next(step) : backoffState.next(step);
        delayMs = backoffState.duration;
        if (respectRetryAfter && !failed) {
          const status = (response as Response).status;
          if (status === 429 || status === 503) {
            const wait = parseRetryAfter((response as Response).headers.get('retry-after'), ctx.clock.now());
            if (wait !== undefined) {
              if (wait > maxRetryAfterMs) reason = 'retry-after';
              delayMs = wait;
            }
          }
        }
        if (reason === undefined && ctx.deadline !== undefined && delayMs >= ctx.remainingMs()) reason = 'deadline';
        if (reason === undefined && budget !== undefined && !budget.tryWithdraw(budget.keyOf(ctx), ctx.clock.now())) {
          reason = 'budget';
          state.budgetExhausted = true;
        }
      }

      if (reason !== undefined) {
        state.exhausted = true;
        if (gaveUp.size > 0) gaveUp.emit({ ctx, attempts: attempt, reason, response, error: failed ? error : undefined }, ctx.log);
        // A response is returned as it is: nothing would be sent again either way.
        if (reason === 'body-not-replayable' && failed) {
          const cause = new BodyNotReplayableError({ request: ctx.request, cause: error });
          throw new MaxRetriesExceededError({ attempts: attempt, reason, cause, request: ctx.request });
        }
        if (failed) throw new MaxRetriesExceededError({ attempts: attempt, reason, cause: error, request: ctx.request });
        return response as Response;
      }

      state.delaysMs = state.delaysMs === noDelays ? [delayMs] : [...state.delaysMs, delayMs];
      if (retried.size > 0) retried.emit({ ctx, attempt, delayMs, response, error: failed ? error : undefined }, ctx.log);
      ctx.log.debug({ attempt, delayMs, status: response?.status, err: failed ? error : undefined }, 'retry: retrying');
      // The body drains while we wait; what is left when the wait ends is cancelled.
      const stopDraining = releaseBody(response);
      try {
        // Rejects at once with the signal's reason (the caller's abort, a total timeout).
        if (delayMs > 0) await ctx.clock.sleep(delayMs, ctx.signal);
        else if (ctx.aborted) throw abortReason(ctx.signal);
      } finally {
        stopDraining();
      }

      ctx.attempt = attempt + 1;
      state.attempt = attempt + 1;
      try {
        response = await next();
        error = undefined;
        failed = false;
      } catch (thrown) {
        response = undefined;
        error = thrown;
        failed = true;
      }
    }
  }

  const middleware = defineMiddleware<{}, { retry: RetryContext }>(
    function retry(ctx, next) {
      const request = ctx.request;
      if (idempotencyKey && (request.method === 'POST' || request.method === 'PATCH') && !request.headers.has('idempotency-key')) {
        request.headers.set('idempotency-key', randomUUID());
      }
      const state: RetryContext = { attempt: 1, delaysMs: noDelays, exhausted: false, budgetExhausted: false };
      ctx.retry = state;
      ctx.attempt = 1;
      if (budget !== undefined) budget.deposit(budget.keyOf(ctx), ctx.clock.now());
      // Nothing to decide for a method that is never retried, unless shouldRetry has a say.
      if (shouldRetry === undefined && !eligible(ctx)) return next();
      return next().then(
        (response) =>
          shouldRetry === undefined && !statuses.has(response.status) ? response : retryLoop(ctx, next, state, response, undefined, false),
        (error: unknown) => retryLoop(ctx, next, state, undefined, error, true),
      );
    },
    { name: 'retry', options: resolved },
  ) as RetryMiddleware;

  Object.defineProperties(middleware, {
    onRetry: { value: (listener: (event: RetryEvent) => void) => retried.add(listener), enumerable: true },
    onGiveUp: { value: (listener: (event: GiveUpEvent) => void) => gaveUp.add(listener), enumerable: true },
  });
  return middleware;
}
