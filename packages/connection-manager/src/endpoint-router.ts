import { compileEndpointPattern, createEndpointMatcher, defineMiddleware, type EndpointMatcher, type Middleware, middlewareName } from '@shallot/core';
import { buildStack, type EndpointStack, mergeSettings, type StackContext } from './endpoint-stack.js';
import type { EndpointSettings } from './options.js';

/** The name of the stack for URLs no endpoint pattern covers. */
export const defaultEndpoint = '(default)';

/**
 * Picks, for each request, the stack of the most specific endpoint pattern covering its URL (as
 * it is when the request reaches this layer: after hooks and a load balancer changed it), or
 * the default stack. Stacks are rebuilt when their settings change; the next request uses the
 * new one, requests in flight finish on the old.
 */
export class EndpointRouter {
  readonly #shared: StackContext;
  #defaults: EndpointSettings;
  readonly #own = new Map<string, Partial<EndpointSettings>>();
  readonly #stacks = new Map<string, EndpointStack>();
  #default: EndpointStack;
  #matcher: EndpointMatcher = createEndpointMatcher([]);
  /** The routing layer, placed in the client's onion. */
  readonly middleware: Middleware;

  constructor(defaults: EndpointSettings, shared: StackContext) {
    this.#shared = shared;
    this.#defaults = defaults;
    this.#default = buildStack(defaultEndpoint, false, defaults, shared);
    const route = (url: URL): EndpointStack => (this.#stacks.size === 0 ? this.#default : this.stackFor(url));
    const describe = () => this.describe();
    this.middleware = defineMiddleware(
      function endpoints(ctx, next) {
        return route(ctx.request.url).middleware(ctx, next);
      },
      {
        name: 'endpoints',
        options: {
          get stacks() {
            return describe();
          },
        },
      },
    );
  }

  /** The stack a request to `url` goes through. */
  stackFor(url: URL): EndpointStack {
    const pattern = this.#matcher.match(url);
    return pattern === undefined ? this.#default : (this.#stacks.get(pattern) ?? this.#default);
  }

  /** Sets (or replaces) the settings of `pattern`; throws, changing nothing, when a layer refuses them. */
  set(pattern: string, own: Partial<EndpointSettings>): void {
    const stack = buildStack(pattern, compileEndpointPattern(pattern).kind === 'prefix', mergeSettings(this.#defaults, own), this.#shared);
    this.#own.set(pattern, own);
    this.#stacks.set(pattern, stack);
    this.#matcher = createEndpointMatcher(this.#stacks.keys());
  }

  /** Removes `pattern`; its URLs go through the default stack again. False when it was not set. */
  delete(pattern: string): boolean {
    if (!this.#stacks.delete(pattern)) return false;
    this.#own.delete(pattern);
    this.#shared.layers.prune(pattern, []);
    this.#matcher = createEndpointMatcher(this.#stacks.keys());
    return true;
  }

  /** The defaults every stack starts from. */
  get defaults(): EndpointSettings {
    return this.#defaults;
  }

  /** Changes the defaults and rebuilds every stack from them (their own keys still win). */
  setDefaults(defaults: EndpointSettings): void {
    const rebuilt = new Map<string, EndpointStack>();
    const fresh = buildStack(defaultEndpoint, false, defaults, this.#shared);
    for (const [pattern, own] of this.#own) {
      rebuilt.set(pattern, buildStack(pattern, compileEndpointPattern(pattern).kind === 'prefix', mergeSettings(defaults, own), this.#shared));
    }
    this.#defaults = defaults;
    this.#default = fresh;
    for (const [pattern, stack] of rebuilt) this.#stacks.set(pattern, stack);
  }

  /** Every stack, the default one first. */
  stacks(): EndpointStack[] {
    return [this.#default, ...this.#stacks.values()];
  }

  /** Each stack's layers, outermost first, with their resolved options, for `describe()`. */
  describe(): Record<string, { name: string; options: unknown }[]> {
    const layers = (stack: EndpointStack) => (stack.middleware.layers ?? [stack.middleware]).map((layer) => ({ name: middlewareName(layer), options: layer.layer?.options }));
    return Object.fromEntries(this.stacks().map((stack) => [stack.name, layers(stack)]));
  }
}
