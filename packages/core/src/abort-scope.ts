import { abortReason, neverAbortSignal, watchSignal } from './signals.js';

/** A registration made with {@link AbortScope.onAbort}; `dispose()` removes it. */
export interface AbortSubscription {
  dispose(): void;
}

type AbortListener = (reason: unknown) => void;

class Subscription implements AbortSubscription {
  scope: AbortScope | undefined;
  readonly listener: AbortListener;

  constructor(scope: AbortScope | undefined, listener: AbortListener) {
    this.scope = scope;
    this.listener = listener;
  }

  dispose(): void {
    const scope = this.scope;
    if (scope === undefined) return;
    this.scope = undefined;
    scope.unsubscribe(this);
  }
}

const disposed: AbortSubscription = { dispose() {} };
const owners = new WeakMap<AbortSignal, AbortScope>();

/** What an {@link AbortScope} aborts with. */
export interface AbortScopeInit {
  /** The scope this one lies inside: it aborts when the parent does. */
  parent?: AbortScope | undefined;
  /** A signal that aborts this scope (the caller's, a fork's own). */
  source?: AbortSignal | undefined;
  /** The deadline in force inside this scope (absolute, per the clock); the parent's if unset. */
  deadline?: number | undefined;
  /** True when its owner will call `abort()` on it (a timeout's or a hedge's scope). @default false */
  abortable?: boolean | undefined;
}

/**
 * Where a request stands on cancellation: aborted or not, why, and by when it must finish. A
 * context holds one scope at a time; a timeout layer opens a child scope for the call it bounds
 * and closes it when the call settles. Nothing is allocated for a listener nobody adds: a scope
 * subscribes to its parent and to its source signal only while something listens to it, and
 * makes an `AbortSignal` only when `signal` is read.
 */
export class AbortScope {
  readonly parent: AbortScope | undefined;
  readonly source: AbortSignal | undefined;
  readonly deadline: number | undefined;
  #aborted = false;
  #reason: unknown = undefined;
  #subscriptions: Set<Subscription> | undefined = undefined;
  #fromParent: AbortSubscription | undefined = undefined;
  #fromSource: (() => void) | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #controllerLink: AbortSubscription | undefined = undefined;
  readonly #inert: boolean;

  constructor(init: AbortScopeInit = {}) {
    this.parent = init.parent;
    this.source = init.source === neverAbortSignal ? undefined : init.source;
    this.deadline = 'deadline' in init ? init.deadline : init.parent?.deadline;
    this.#inert = init.abortable !== true && this.source === undefined && (this.parent === undefined || this.parent.#inert);
  }

  /** True for a scope nothing can abort: not abortable itself, no source, no parent that can. */
  get inert(): boolean {
    return this.#inert;
  }

  /** True once this scope, its source or any scope it lies in has aborted. */
  get aborted(): boolean {
    if (this.#aborted) return true;
    if (this.source?.aborted === true) return true;
    return this.parent?.aborted ?? false;
  }

  /** Why it aborted (a `TimeoutError`, the caller's reason), or `undefined`. */
  get reason(): unknown {
    if (this.#aborted) return this.#reason;
    if (this.source?.aborted === true) return abortReason(this.source);
    return this.parent?.reason;
  }

  /** Aborts this scope and every scope inside it that listens. The first reason wins. */
  abort(reason: unknown): void {
    if (this.#aborted || this.#inert) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#detach();
    const subscriptions = this.#subscriptions;
    this.#subscriptions = undefined;
    if (subscriptions === undefined) return;
    for (const subscription of subscriptions) {
      subscription.scope = undefined;
      subscription.listener(reason);
    }
  }

  /**
   * Calls `listener` with the reason when the scope aborts (at once when it already has).
   * Dispose the subscription when the work it guards is done.
   */
  onAbort(listener: AbortListener): AbortSubscription {
    if (this.aborted) {
      listener(this.reason);
      return disposed;
    }
    if (this.#inert) return disposed;
    const subscription = new Subscription(this, listener);
    const subscriptions = (this.#subscriptions ??= new Set());
    subscriptions.add(subscription);
    if (subscriptions.size === 1) this.#attach();
    return subscription;
  }

  /** @internal Removes a subscription (its `dispose()`). */
  unsubscribe(subscription: Subscription): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions === undefined || !subscriptions.delete(subscription)) return;
    if (subscriptions.size === 0) this.#detach();
  }

  #attach(): void {
    const relay = (reason: unknown): void => this.abort(reason);
    if (this.parent !== undefined && !this.parent.#inert) this.#fromParent = this.parent.onAbort(relay);
    const source = this.source;
    if (source !== undefined) this.#fromSource = watchSignal(source, () => this.abort(abortReason(source)));
  }

  #detach(): void {
    this.#fromParent?.dispose();
    this.#fromParent = undefined;
    this.#fromSource?.();
    this.#fromSource = undefined;
  }

  /**
   * An `AbortSignal` that aborts with this scope, made on first read (reading it is what costs:
   * an `AbortController` and a subscription). A scope nothing can abort gives the shared
   * never-aborting signal.
   */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    if (this.#inert) return neverAbortSignal;
    const controller = new AbortController();
    this.#controller = controller;
    owners.set(controller.signal, this);
    this.#controllerLink = this.onAbort((reason) => controller.abort(reason));
    return controller.signal;
  }

  /** Unlinks the signal made by `signal` (the scope's work is done); it stays as it is. */
  end(): void {
    this.#controllerLink?.dispose();
    this.#controllerLink = undefined;
  }

  /** The scope whose `signal` this is, if any: assigning a scope's own signal back restores it. */
  static ownerOf(signal: AbortSignal): AbortScope | undefined {
    return owners.get(signal);
  }
}

/** The scope of a request with no caller signal and no deadline: it never aborts. */
export const rootScope = new AbortScope();
