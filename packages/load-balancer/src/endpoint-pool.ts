import { Endpoint, type EndpointDefinition } from './endpoint.js';

/** What a change of the set did. */
export interface PoolChange {
  readonly added: readonly Endpoint[];
  readonly removed: readonly Endpoint[];
}

/** Where a full request URL lands when its origin is one of the endpoints'. */
export interface PoolMatch {
  readonly endpoint: Endpoint;
  /** The path and query after the endpoint's base path. */
  readonly path: string;
}

/**
 * The endpoint set, and which of its endpoints are available for choice. The available list is
 * computed once and kept until something changes (an ejection, a health verdict, a new set) or
 * the earliest ejection or breaker wait runs out, so a pick reads a ready array.
 */
export class EndpointPool {
  /** The whole set, in the order given. */
  all: readonly Endpoint[] = [];
  /** True when choice spreads over the whole set because too few endpoints are available. */
  panic = false;
  #available: readonly Endpoint[] = [];
  #validUntil = -Infinity;
  #byUrl = new Map<string, Endpoint>();
  #byOrigin = new Map<string, Endpoint[]>();
  readonly #panicThresholdPercent: number;
  readonly #onReadmit: (endpoint: Endpoint) => void;

  constructor(panicThresholdPercent: number, onReadmit: (endpoint: Endpoint) => void) {
    this.#panicThresholdPercent = panicThresholdPercent;
    this.#onReadmit = onReadmit;
  }

  /**
   * Replaces the set. An endpoint kept (same URL) keeps its state, in-flight count included,
   * and takes its new weight and metadata; a removed one is only forgotten, so requests in
   * flight to it finish as they would have.
   */
  replace(definitions: readonly EndpointDefinition[]): PoolChange {
    const next = new Map<string, Endpoint>();
    const added: Endpoint[] = [];
    for (const definition of definitions) {
      let endpoint = this.#byUrl.get(definition.url);
      if (endpoint === undefined) {
        endpoint = new Endpoint(definition);
        added.push(endpoint);
      } else {
        endpoint.weight = definition.weight;
        endpoint.metadata = definition.metadata;
      }
      next.set(endpoint.url, endpoint);
    }
    const removed: Endpoint[] = [];
    for (const endpoint of this.all) {
      if (next.has(endpoint.url)) continue;
      endpoint.removed = true;
      removed.push(endpoint);
    }
    this.all = [...next.values()];
    this.#byUrl = next;
    this.#byOrigin = new Map();
    for (const endpoint of this.all) {
      const list = this.#byOrigin.get(endpoint.origin);
      if (list === undefined) this.#byOrigin.set(endpoint.origin, [endpoint]);
      else list.push(endpoint);
    }
    // The longest base path wins a full URL that two endpoints of one origin could take.
    for (const list of this.#byOrigin.values()) list.sort((a, b) => b.basePath.length - a.basePath.length);
    this.invalidate();
    return { added, removed };
  }

  /** Forces the available list to be computed again at the next pick. */
  invalidate(): void {
    this.#validUntil = -Infinity;
  }

  /** What a pick at `now` chooses from: the available endpoints, or all of them in panic mode. */
  candidates(now: number): readonly Endpoint[] {
    if (now >= this.#validUntil) this.#recompute(now);
    return this.panic ? this.all : this.#available;
  }

  #recompute(now: number): void {
    const available: Endpoint[] = [];
    let validUntil = Infinity;
    for (const endpoint of this.all) {
      if (endpoint.ejectedUntil !== 0 && endpoint.ejectedUntil <= now) {
        endpoint.ejectedUntil = 0;
        endpoint.lastEjectionEnd = now;
        this.#onReadmit(endpoint);
      }
      if (endpoint.availableAt(now)) available.push(endpoint);
      if (endpoint.ejectedUntil > now && endpoint.ejectedUntil < validUntil) validUntil = endpoint.ejectedUntil;
      if (endpoint.unavailableUntil > now && endpoint.unavailableUntil < validUntil) validUntil = endpoint.unavailableUntil;
    }
    this.#available = available;
    this.#validUntil = validUntil;
    const total = this.all.length;
    this.panic = total > 0 && (available.length === 0 || available.length * 100 < total * this.#panicThresholdPercent);
  }

  /** The endpoint a full URL points at, and the path after its base path, if any endpoint's origin is the URL's. */
  match(url: URL): PoolMatch | undefined {
    const list = this.#byOrigin.get(url.origin);
    if (list === undefined) return undefined;
    const pathname = url.pathname;
    for (const endpoint of list) {
      const base = endpoint.basePath;
      if (base === '') return { endpoint, path: pathname + url.search };
      if (pathname === base || pathname.startsWith(`${base}/`)) return { endpoint, path: (pathname.slice(base.length) || '/') + url.search };
    }
    return undefined;
  }

  /** Endpoints ejected at `now`. */
  ejectedCount(now: number): number {
    let count = 0;
    for (const endpoint of this.all) if (endpoint.ejectedUntil > now) count++;
    return count;
  }
}
