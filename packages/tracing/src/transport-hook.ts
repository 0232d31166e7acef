import type { BaseContext, TransportHook } from '@shallot/core';

/**
 * Adds `hook` around every attempt sent under `ctx` until the returned function is called.
 *
 * Like core's `addTransportHook`, but copy-on-write: `fork()` shares the hook list between a
 * context and its forks, so a layer placed inside a hedge (one pass per fork) that pushed onto
 * the shared list would see its sibling forks' attempts too. A fresh list per pass keeps each
 * fork's hooks its own, and restoring the previous list on the way out removes this one.
 */
export function attachTransportHook(ctx: BaseContext, hook: TransportHook): () => void {
  const previous = ctx.transportHooks;
  ctx.transportHooks = previous === undefined ? [hook] : [...previous, hook];
  return () => {
    ctx.transportHooks = previous;
  };
}
