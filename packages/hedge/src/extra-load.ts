/**
 * Caps copies as a fraction of requests: each hedgeable request earns `ratio` of a copy, each
 * copy spends one. It starts with one copy in hand and holds at most `capacity`, so a quiet
 * client can hedge its first slow request and a burst cannot save up a storm.
 */
export class ExtraLoad {
  #tokens: number;
  readonly #ratio: number;
  readonly #capacity: number;

  constructor(ratio: number, capacity: number) {
    this.#ratio = ratio;
    this.#capacity = capacity;
    this.#tokens = ratio > 0 ? 1 : 0;
  }

  /** Counts a hedgeable request. */
  deposit(): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + this.#ratio);
  }

  /** Takes one copy; false when the cap is reached. */
  tryWithdraw(): boolean {
    // A tiny epsilon so ten deposits of 0.1 pay for one copy despite floating point.
    if (this.#tokens < 1 - 1e-9) return false;
    this.#tokens = Math.max(0, this.#tokens - 1);
    return true;
  }
}
