import type CachePolicy from 'http-cache-semantics';
import type { CacheEntry } from './store.js';

/** How the request that led a flight ended, as the requests that joined it see it. */
export type FlightOutcome =
  /**
   * An entry was stored or refreshed under `key`: joiners whose request matches its variant serve
   * it, if the store kept it.
   */
  | {
      readonly kind: 'entry';
      readonly key: string;
      readonly entry: CacheEntry;
      readonly policy: CachePolicy;
      readonly vary: readonly string[];
      readonly variant: string;
      readonly status: 'MISS' | 'REVALIDATED';
    }
  /** Nothing shareable (not storable, too large, an error status): joiners send their own. */
  | { readonly kind: 'pass'; readonly status: number }
  /** It threw; `aborted` when its own caller gave up, and the joiners should not share that. */
  | { readonly kind: 'error'; readonly error: unknown; readonly aborted: boolean }
  /** Its body failed or was cancelled before the end: nothing stored, the joiners look again. */
  | { readonly kind: 'again' };

/**
 * Identical requests in flight, by key: the first one leads (sends upstream); later ones wait for
 * its outcome instead of sending their own.
 */
export class Flights {
  readonly #pending = new Map<string, Promise<FlightOutcome>>();

  /** The flight under `key`, if one is running. */
  find(key: string): Promise<FlightOutcome> | undefined {
    return this.#pending.get(key);
  }

  /**
   * Starts the flight under `key` and returns the function that ends it with its outcome (only
   * its first call counts).
   */
  start(key: string): (outcome: FlightOutcome) => void {
    let settle: (outcome: FlightOutcome) => void = () => {};
    this.#pending.set(
      key,
      new Promise<FlightOutcome>((resolve) => {
        settle = resolve;
      }),
    );
    let ended = false;
    return (outcome) => {
      if (ended) return;
      ended = true;
      this.#pending.delete(key);
      settle(outcome);
    };
  }
}

