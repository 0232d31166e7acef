import { type Clock, createContext, type Logger, TimeoutError, type Transport, undiciTransport } from '@shallot/core';
import type { Endpoint } from './endpoint.js';
import type { ResolvedHealthCheckOptions } from './options.js';

/** What one probe found. */
export interface ProbeResult {
  readonly ok: boolean;
  /** The status, when the endpoint answered. */
  readonly status?: number | undefined;
  /** The error, when it did not. */
  readonly error?: unknown;
}

/** What a probe's result changed. */
export interface ProbeVerdict {
  /** The health verdict flipped (see `endpoint.healthy`). */
  readonly healthChanged: boolean;
  /** An ejected endpoint passed enough probes since its ejection to come back. */
  readonly readmit: boolean;
}

/**
 * Applies a probe result to an endpoint: `unhealthyThreshold` failures in a row make it
 * unhealthy, `healthyThreshold` passes in a row make it healthy again and readmit it if outlier
 * detection had ejected it (Envoy's `successful_active_health_check_uneject_host`, needing as
 * many passes as a return to health does).
 */
export function applyProbe(endpoint: Endpoint, result: ProbeResult, options: ResolvedHealthCheckOptions, now: number): ProbeVerdict {
  if (!result.ok) {
    endpoint.passes = 0;
    endpoint.fails++;
    const healthChanged = endpoint.healthy && endpoint.fails >= options.unhealthyThreshold;
    if (healthChanged) endpoint.healthy = false;
    return { healthChanged, readmit: false };
  }
  endpoint.fails = 0;
  endpoint.passes++;
  const enough = endpoint.passes >= options.healthyThreshold;
  const healthChanged = !endpoint.healthy && enough;
  if (healthChanged) endpoint.healthy = true;
  const readmit = enough && endpoint.ejectedUntil > now;
  if (readmit) {
    endpoint.ejectedUntil = 0;
    endpoint.lastEjectionEnd = now;
  }
  return { healthChanged, readmit };
}

/**
 * Probes every watched endpoint in the background: one probe at a time per endpoint, the next
 * `intervalMs` plus up to `jitterMs` after the last one ended. Probes go through an undici
 * transport of the checker's own (closed by `close()`), never through the client's layers.
 * Timers come from the clock (the real clock's are unref'd: they never keep a process alive).
 */
export class HealthChecker {
  readonly #options: ResolvedHealthCheckOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #onResult: (endpoint: Endpoint, result: ProbeResult) => void;
  readonly #jitterMs: number;
  readonly #expect: ReadonlySet<number> | undefined;
  readonly #timers = new Map<Endpoint, () => void>();
  readonly #probes = new Set<AbortController>();
  #transport: Transport | undefined;
  #closed = false;

  constructor(options: ResolvedHealthCheckOptions, clock: Clock, log: Logger, onResult: (endpoint: Endpoint, result: ProbeResult) => void) {
    this.#options = options;
    this.#clock = clock;
    this.#log = log;
    this.#onResult = onResult;
    this.#jitterMs = options.jitterMs ?? options.intervalMs / 10;
    const expect = options.expectStatus;
    this.#expect = expect === undefined ? undefined : new Set(typeof expect === 'number' ? [expect] : expect);
  }

  /** Starts probing `endpoint`, the first probe within `jitterMs`. */
  watch(endpoint: Endpoint): void {
    if (this.#closed || this.#timers.has(endpoint)) return;
    this.#schedule(endpoint, Math.random() * this.#jitterMs);
  }

  /** Stops probing `endpoint`; a probe in flight is let finish and its result dropped. */
  unwatch(endpoint: Endpoint): void {
    this.#timers.get(endpoint)?.();
    this.#timers.delete(endpoint);
  }

  /** Stops every probe (aborting those in flight) and closes the probes' transport. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const cancel of this.#timers.values()) cancel();
    this.#timers.clear();
    for (const probe of this.#probes) probe.abort(new DOMException('the load balancer was closed', 'AbortError'));
    await this.#transport?.close();
  }

  #schedule(endpoint: Endpoint, delayMs: number): void {
    const cancel = this.#clock.setTimer(delayMs, () => {
      void this.#run(endpoint, cancel);
    });
    this.#timers.set(endpoint, cancel);
  }

  async #run(endpoint: Endpoint, timer: () => void): Promise<void> {
    const result = await this.#probe(endpoint);
    // Unwatched or closed while the probe was out: nothing to record, nothing to schedule.
    if (this.#closed || this.#timers.get(endpoint) !== timer) return;
    this.#onResult(endpoint, result);
    this.#schedule(endpoint, this.#options.intervalMs + Math.random() * this.#jitterMs);
  }

  async #probe(endpoint: Endpoint): Promise<ProbeResult> {
    const { method, path, timeoutMs, headers, tls } = this.#options;
    const transport = (this.#transport ??= undiciTransport({ maxSockets: 1, maxOrigins: 1_000 }));
    const request = { method, url: new URL(endpoint.url + path), headers: new Headers(headers), body: null, cache: 'no-store' as const, redirect: 'manual' as const };
    const controller = new AbortController();
    this.#probes.add(controller);
    const cancelTimeout = this.#clock.setTimer(timeoutMs, () => controller.abort(new TimeoutError('attempt', timeoutMs, { request })));
    const ctx = createContext({ request, signal: controller.signal, clock: this.#clock, tls, log: this.#log });
    try {
      const response = await transport.send(ctx);
      // Read to the end, so the connection is reused by the next probe.
      await response.arrayBuffer();
      const status = response.status;
      return { ok: this.#expect === undefined ? status >= 200 && status < 300 : this.#expect.has(status), status };
    } catch (error) {
      return { ok: false, error };
    } finally {
      cancelTimeout();
      this.#probes.delete(controller);
    }
  }
}
