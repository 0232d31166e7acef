import { compose, type Context, defineMiddleware, type Middleware, parseOptions, undiciTransport } from '@shallot/core';
import { AlertDeliveryError } from './errors.js';
import { type CircuitOpenAlertOptions, circuitOpenAlertOptionsSchema } from './options.js';

/** What `circuitOpenAlert()` records on the context as `ctx.circuitOpenAlert`. */
export interface CircuitOpenAlertContext {
  /** True when this request found its circuit open and an alert was sent for it. */
  alerted: boolean;
}

/** The part of `ctx.circuitBreaker` (from `@shallot/circuit-breaker`) this layer reads. */
interface BreakerView {
  readonly key: string;
  readonly state: string;
}

/** What an alert says; also the JSON body posted to the webhook. */
export interface CircuitOpenAlert {
  readonly event: 'circuit-open';
  /** The circuit's key (`host:port` by default). */
  readonly key: string;
  /** When the request saw it open (ISO 8601). */
  readonly at: string;
  /** The status of the failure that opened it, when it was a response. */
  readonly status?: number | undefined;
  /** The error that opened it (or refused the request), when there was one. */
  readonly error?: string | undefined;
}

/** The middleware `circuitOpenAlert()` returns, with its events. */
export interface CircuitOpenAlertMiddleware extends Middleware<{}, { circuitOpenAlert: CircuitOpenAlertContext }> {
  /** Listens to every alert sent (delivered or not). */
  onAlert(listener: (alert: CircuitOpenAlert) => void): { dispose(): void };
  /** Listens to alerts that could not be delivered. */
  onDeliveryFailure(listener: (error: AlertDeliveryError) => void): { dispose(): void };
}

type AlertCtx = Context<{ circuitOpenAlert?: CircuitOpenAlertContext; circuitBreaker?: BreakerView }>;

function listeners<E>(): { add(listener: (event: E) => void): { dispose(): void }; emit(event: E): void } {
  const list = new Set<(event: E) => void>();
  return {
    add(listener) {
      list.add(listener);
      return { dispose: () => void list.delete(listener) };
    },
    emit(event) {
      for (const listener of list) {
        try {
          listener(event);
        } catch {
          // A listener's failure is its own; the alert goes on.
        }
      }
    },
  };
}

/**
 * Posts `{ event: 'circuit-open', key, at, status?, error? }` to a webhook when a request finds
 * its circuit open: when its own failure opened it, or when the breaker refused it. At most one
 * alert per circuit key per `minIntervalMs`. Delivering never delays or fails the request; a
 * delivery that fails goes to `onDeliveryFailure` listeners and `ctx.log`.
 *
 * Place it outside (before) `circuitBreaker()`, which sets the `ctx.circuitBreaker` it reads.
 *
 * @example
 * const client = compose()
 *   .use(circuitOpenAlert({ webhookUrl: 'https://hooks.example.com/alerts' }))
 *   .use(circuitBreaker({ failureThreshold: 5 }))
 *   .build();
 */
export function circuitOpenAlert(options: CircuitOpenAlertOptions): CircuitOpenAlertMiddleware {
  const resolved = parseOptions(circuitOpenAlertOptionsSchema, options, 'circuitOpenAlert');
  const lastAlert = new Map<string, number>();
  const inFlight = new Set<Promise<void>>();
  const alerts = listeners<CircuitOpenAlert>();
  const failures = listeners<AlertDeliveryError>();
  // Its own client, so alerts never pass through the stack they report on.
  const webhook = compose().build({ transport: undiciTransport({ maxSockets: 2 }), timeoutMs: resolved.timeoutMs, headers: resolved.headers });

  function deliver(ctx: AlertCtx, alert: CircuitOpenAlert): void {
    alerts.emit(alert);
    const sending = webhook
      .post(resolved.webhookUrl, { json: alert })
      .then(async (response) => {
        await response.arrayBuffer();
        if (!response.ok) throw new AlertDeliveryError(alert.key, `the webhook answered ${response.status}`);
      })
      .catch((error: unknown) => {
        const failure = error instanceof AlertDeliveryError ? error : new AlertDeliveryError(alert.key, error instanceof Error ? error.message : String(error), { cause: error });
        ctx.log.warn({ err: failure }, failure.message);
        failures.emit(failure);
      })
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }

  function check(ctx: AlertCtx, status: number | undefined, error: unknown): void {
    const breaker = ctx.circuitBreaker;
    const refused = (error as { code?: unknown } | undefined)?.code === 'ERR_CIRCUIT_OPEN';
    if (breaker?.state !== 'open' && !refused) return;
    const key = breaker?.key ?? String((error as { key?: unknown }).key ?? ctx.request.url.host);
    const now = ctx.clock.now();
    const last = lastAlert.get(key);
    if (last !== undefined && now - last < resolved.minIntervalMs) return;
    lastAlert.set(key, now);
    (ctx.circuitOpenAlert as CircuitOpenAlertContext).alerted = true;
    deliver(ctx, { event: 'circuit-open', key, at: new Date().toISOString(), status, error: error instanceof Error ? error.message : undefined });
  }

  const middleware = defineMiddleware<{}, { circuitOpenAlert: CircuitOpenAlertContext }>(
    async function circuitOpenAlert(ctx, next) {
      ctx.circuitOpenAlert = { alerted: false };
      let response: Response;
      try {
        response = await next();
      } catch (error) {
        check(ctx as AlertCtx, undefined, error);
        throw error;
      }
      check(ctx as AlertCtx, response.status, undefined);
      return response;
    },
    {
      name: 'circuitOpenAlert',
      options: { ...resolved, headers: Object.keys(resolved.headers) },
      async close() {
        await Promise.allSettled([...inFlight]);
        await webhook.close();
      },
    },
  ) as CircuitOpenAlertMiddleware;

  return Object.assign(middleware, { onAlert: alerts.add, onDeliveryFailure: failures.add });
}
