import type { Logger } from './logger.js';

/** What registering a listener returns: `dispose()` removes it. */
export interface Subscription {
  dispose(): void;
}

/**
 * The listeners of one event of a layer (`retry.onRetry`, `loadBalancer.onEject`): `add()`
 * returns a `{ dispose() }`, `emit()` calls each in the order added. A listener that throws is
 * logged and skipped: it never breaks the request or the layer that emitted.
 *
 * @example
 * const retried = new Listeners<RetryEvent>('retry', 'onRetry');
 * retried.emit(event, ctx.log);
 */
export class Listeners<E> {
  readonly #listeners: ((event: E) => void)[] = [];
  readonly #owner: string;
  readonly #event: string;

  /** `owner` is the layer (`retry`), `event` the method users call (`onRetry`): both name it in errors and logs. */
  constructor(owner: string, event: string) {
    this.#owner = owner;
    this.#event = event;
  }

  /** How many listeners there are. */
  get size(): number {
    return this.#listeners.length;
  }

  /** Adds a listener; throws a `TypeError` for anything that is not a function. */
  add(listener: (event: E) => void): Subscription {
    if (typeof listener !== 'function') throw new TypeError(`${this.#owner}.${this.#event}: expected a function`);
    this.#listeners.push(listener);
    return {
      dispose: () => {
        const i = this.#listeners.indexOf(listener);
        if (i !== -1) this.#listeners.splice(i, 1);
      },
    };
  }

  /** Calls every listener with `event`; one that throws is logged on `log` and skipped. */
  emit(event: E, log: Logger): void {
    if (this.#listeners.length === 0) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        log.warn({ err: error, event: this.#event }, `${this.#owner}: an ${this.#event} listener threw; it was skipped`);
      }
    }
  }
}
