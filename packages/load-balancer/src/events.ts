import type { Logger } from '@shallot/core';

/** Returned by every `onX(listener)`: `dispose()` removes the listener. */
export interface Subscription {
  dispose(): void;
}

/** An endpoint was ejected by outlier detection. */
export interface EjectEvent {
  /** The endpoint's URL. */
  readonly endpoint: string;
  /** When it comes back (per the balancer's clock), unless a passing health check readmits it sooner. */
  readonly until: number;
  /** How many times it has been ejected, this one included (the ejection lasted `baseEjectionMs` times this, capped). */
  readonly timesEjected: number;
  /** The failures in a row that ejected it. */
  readonly consecutiveFailures: number;
}

/** An ejected endpoint is back in rotation. */
export interface ReadmitEvent {
  readonly endpoint: string;
  /** `timeout`: its ejection time ran out; `health-check`: active health checks passed `healthyThreshold` times since it was ejected. */
  readonly reason: 'timeout' | 'health-check';
}

/** Active health checks changed their verdict on an endpoint. */
export interface HealthChangeEvent {
  readonly endpoint: string;
  readonly healthy: boolean;
  /** The status of the probe that decided it, when it answered. */
  readonly status?: number | undefined;
  /** The error of the probe that decided it, when it failed without answering. */
  readonly error?: unknown;
}

/** The endpoint set changed (a provider or an async iterable gave a new one). */
export interface EndpointsChangeEvent {
  /** The URLs of the whole new set. */
  readonly endpoints: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/** A provider threw, an async iterable failed, or a set it gave was invalid: the last good set stays. */
export interface DiscoveryErrorEvent {
  readonly error: unknown;
}

/** A list of listeners; one that throws is logged and skipped, it never breaks the balancer. */
export class Listeners<E> {
  readonly #listeners: ((event: E) => void)[] = [];
  readonly #name: string;
  readonly #log: Logger;

  constructor(name: string, log: Logger) {
    this.#name = name;
    this.#log = log;
  }

  add(listener: (event: E) => void): Subscription {
    if (typeof listener !== 'function') throw new TypeError(`loadBalancer.${this.#name}: expected a function`);
    this.#listeners.push(listener);
    return {
      dispose: () => {
        const i = this.#listeners.indexOf(listener);
        if (i !== -1) this.#listeners.splice(i, 1);
      },
    };
  }

  emit(event: E): void {
    if (this.#listeners.length === 0) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#log.warn({ err: error, event: this.#name }, `loadBalancer: an ${this.#name} listener threw; it was skipped`);
      }
    }
  }
}
