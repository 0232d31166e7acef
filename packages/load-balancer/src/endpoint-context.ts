import type { BaseContext } from '@shallot/core';

/**
 * What `loadBalancer()` records on `ctx.endpoint`: the endpoint chosen for the attempt in flight
 * (or the last one made), and what earlier attempts of the same request chose.
 */
export interface EndpointContext {
  /** The chosen endpoint's URL: origin and base path, no trailing slash (`http://10.0.0.1:8080`). */
  readonly url: string;
  /** The chosen endpoint's metadata, as given with it (`{}` when none). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The request's path and query, relative to the endpoint's base path (`/data/1?page=2`). */
  readonly path: string;
  /** The full URL the attempt was sent to. */
  readonly target: string;
  /** Endpoints chosen for this request so far, this one included (1 on the first attempt). */
  readonly picks: number;
  /**
   * The endpoints earlier attempts of this request went to: a new pick avoids them while another
   * endpoint is available.
   */
  readonly tried: ReadonlySet<string>;
  /** True when the pick spread over every endpoint because too few were available (panic mode). */
  readonly panic: boolean;
}

/** {@link EndpointContext} as the balancer writes it. */
export type EndpointRecord = { -readonly [K in keyof EndpointContext]: EndpointContext[K] };

/** The `tried` of a first pick: shared, never written to. */
export const nothingTried: ReadonlySet<string> = new Set<string>();

/**
 * The endpoint a balancer chose for the request of `ctx`, if any: for code that sees the base
 * context type, such as a circuit breaker's key function.
 *
 * @example
 * circuitBreaker({ key: (ctx) => endpointOf(ctx)?.url ?? ctx.request.url.host })
 */
export function endpointOf(ctx: BaseContext): EndpointContext | undefined {
  return (ctx as BaseContext & { endpoint?: EndpointContext }).endpoint;
}
