import type { AbortScope, AbortSubscription } from './abort-scope.js';
import type { BaseContext } from './context.js';
import { expireAfter, type Expiry } from './deadline-queue.js';
import { TimeoutError } from './errors.js';

type Listener = () => void;

/**
 * What a transport hands undici or node-fetch as `signal` for one send: just the shape they use
 * (`aborted`, `reason`, `addEventListener`/`removeEventListener` of one `abort` listener), fired
 * by the request's abort scope or by the read timeout on the headers. It costs one object, where
 * an `AbortController` and `AbortSignal.any()` cost tens of microseconds per request, and it
 * subscribes to the scope only while the library listens (until the body is read or closed).
 */
export class TransportSignal {
  aborted = false;
  reason: unknown = undefined;
  readonly #scope: AbortScope;
  #listener: Listener | undefined = undefined;
  #subscription: AbortSubscription | undefined = undefined;
  #headersExpiry: Expiry | undefined = undefined;

  constructor(scope: AbortScope) {
    this.#scope = scope;
    if (scope.aborted) {
      this.aborted = true;
      this.reason = scope.reason;
    }
  }

  /** node-fetch accepts an object whose tag says it is an AbortSignal. */
  get [Symbol.toStringTag](): string {
    return 'AbortSignal';
  }

  addEventListener(_type: string, listener: Listener): void {
    this.#listener = listener;
    if (this.#subscription !== undefined || this.aborted) return;
    if (this.#scope.aborted) {
      // Never call the listener from inside addEventListener: node-fetch adds its listener half-way
      // through setting a request up, and aborting it there left the request's 'error' unheard
      // (an uncaught exception) and sent the request anyway.
      const reason = this.#scope.reason;
      queueMicrotask(() => this.abort(reason));
      return;
    }
    this.#subscription = this.#scope.onAbort((reason) => this.abort(reason));
  }

  removeEventListener(_type: string, listener: Listener): void {
    // A finished hop of a redirect chain may remove its listener after the next hop added its own.
    if (listener !== this.#listener) return;
    this.#listener = undefined;
    this.#subscription?.dispose();
    this.#subscription = undefined;
  }

  /**
   * The send is over (its body ended, failed or was dropped): stop listening to the scope,
   * whether or not the library removed its listener (node-fetch removes it only on a body's
   * `end`, so a body that fails half-way would keep a watch on the caller's signal).
   */
  release(): void {
    this.#listener = undefined;
    this.#subscription?.dispose();
    this.#subscription = undefined;
    this.headersDone();
  }

  /** Aborts the send in flight with `reason`. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#subscription?.dispose();
    this.#subscription = undefined;
    this.#headersExpiry?.cancel();
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }

  /** The read timeout's first half: abort with a `read` TimeoutError unless headers arrive within `readMs`. */
  boundHeaders(ctx: BaseContext, readMs: number): void {
    this.#headersExpiry = expireAfter(ctx.clock, readMs, () => this.abort(new TimeoutError('read', readMs, { request: ctx.request })));
  }

  /** The headers arrived (or the send failed): the read timeout's first half is over. */
  headersDone(): void {
    this.#headersExpiry?.cancel();
    this.#headersExpiry = undefined;
  }
}

/**
 * The signal a transport passes for one send, or `undefined` when nothing can abort it (no caller
 * signal, no deadline, no read timeout): then the library gets no signal at all.
 */
export function transportSignal(scope: AbortScope, ctx: BaseContext, readMs: number | undefined): TransportSignal | undefined {
  if (scope.inert && readMs === undefined) return undefined;
  const signal = new TransportSignal(scope);
  if (readMs !== undefined && !signal.aborted) signal.boundHeaders(ctx, readMs);
  return signal;
}
