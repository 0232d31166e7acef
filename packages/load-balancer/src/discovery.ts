import type { Clock } from '@shallot/core';
import type { EndpointInput, EndpointProvider, EndpointSource } from './options.js';

/** Feeds endpoint lists from a source to the balancer. */
export interface Discovery {
  /** Pending until the source has given its first list (or failed to); `undefined` once it has. */
  readonly ready: Promise<void> | undefined;
  /** Calls a provider again now; a no-op for a fixed list or an async iterable. */
  refresh(): Promise<void>;
  /** Stops the refresh timer, or the iteration (its `return()` is called). */
  close(): void;
}

/** What discovery hands each list to, and tells of failures. */
export interface DiscoverySink {
  /** Applies a list; throws when the list is not valid. */
  apply(list: unknown): void;
  error(error: unknown): void;
}

/**
 * Starts reading endpoint lists from `source`: a fixed list is applied at once; a provider is
 * called now and every `refreshIntervalMs` (the timer re-armed after each call, never two calls
 * at once); an async iterable is read in the background, each value replacing the set.
 */
export function startDiscovery(source: EndpointSource, sink: DiscoverySink, clock: Clock, refreshIntervalMs: number): Discovery {
  if (typeof source === 'function') return providerDiscovery(source as EndpointProvider, sink, clock, refreshIntervalMs);
  if (Array.isArray(source)) {
    sink.apply(source);
    return { ready: undefined, refresh: () => Promise.resolve(), close: () => {} };
  }
  return iterableDiscovery(source as AsyncIterable<readonly EndpointInput[]>, sink);
}

function providerDiscovery(provider: EndpointProvider, sink: DiscoverySink, clock: Clock, refreshIntervalMs: number): Discovery {
  let closed = false;
  let cancelTimer = (): void => {};
  let running: Promise<void> | undefined;

  const accept = (list: unknown): void => {
    try {
      sink.apply(list);
    } catch (error) {
      sink.error(error);
    }
  };
  const schedule = (): void => {
    if (!closed) cancelTimer = clock.setTimer(refreshIntervalMs, () => void call());
  };
  // Resolves synchronously-given lists at once, so a provider that does not await costs no wait.
  const call = (): Promise<void> | undefined => {
    if (running !== undefined) return running;
    cancelTimer();
    let result: ReturnType<EndpointProvider>;
    try {
      result = provider();
    } catch (error) {
      sink.error(error);
      schedule();
      return undefined;
    }
    const thenable = typeof result === 'object' && result !== null && typeof (result as { then?: unknown }).then === 'function';
    if (!thenable) {
      accept(result);
      schedule();
      return undefined;
    }
    running = Promise.resolve(result).then(
      (list) => {
        if (!closed) accept(list);
      },
      (error: unknown) => {
        if (!closed) sink.error(error);
      },
    );
    void running.finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  };

  const discovery = {
    ready: call(),
    refresh: async () => {
      await call();
    },
    close: () => {
      closed = true;
      cancelTimer();
    },
  };
  void discovery.ready?.then(() => {
    discovery.ready = undefined;
  });
  return discovery;
}

function iterableDiscovery(source: AsyncIterable<readonly EndpointInput[]>, sink: DiscoverySink): Discovery {
  let closed = false;
  const iterator = source[Symbol.asyncIterator]();
  let markReady = (): void => {};
  const discovery: { ready: Promise<void> | undefined; refresh(): Promise<void>; close(): void } = {
    ready: new Promise<void>((resolve) => {
      markReady = () => {
        discovery.ready = undefined;
        resolve();
      };
    }),
    refresh: () => Promise.resolve(),
    close: () => {
      closed = true;
      markReady();
      void Promise.resolve(iterator.return?.()).catch(() => {});
    },
  };
  void (async () => {
    try {
      for (;;) {
        const step = await iterator.next();
        if (closed || step.done === true) break;
        try {
          sink.apply(step.value);
        } catch (error) {
          sink.error(error);
        }
        markReady();
      }
    } catch (error) {
      if (!closed) sink.error(error);
    } finally {
      markReady();
    }
  })();
  return discovery;
}
