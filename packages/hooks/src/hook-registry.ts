import type { ErrorContext, RequestContext, ResponseContext } from './contexts.js';

/** Runs before the request goes through the inner layers; may change it or answer it. */
export type PreRequestHook = (ctx: RequestContext) => void | Promise<void>;
/** Runs on the response; may inspect it or replace it. */
export type PostResponseHook = (ctx: ResponseContext) => void | Promise<void>;
/** Runs when the inner layers throw; may answer with a fallback or ask for a re-send. */
export type ErrorHook = (ctx: ErrorContext) => void | Promise<void>;

/**
 * The three kinds of hook. The original's names (`pre_request`, `post_response`,
 * `error_handler`) and kebab-case ones (`pre-request`, `post-response`) are accepted too.
 */
export type HookType = 'preRequest' | 'postResponse' | 'error';

/** A hook type as a caller may spell it. */
export type HookTypeName = HookType | 'pre_request' | 'post_response' | 'error_handler' | 'pre-request' | 'post-response' | 'errorHandler';

/** The names of the registered hooks, by type, in the order they run (`listHooks()`). */
export interface HookList {
  readonly preRequest: readonly string[];
  readonly postResponse: readonly string[];
  readonly error: readonly string[];
}

/** The hooks a request runs: taken once when the request starts, never changed afterwards. */
export interface HookSnapshot {
  readonly preRequest: readonly PreRequestHook[];
  readonly postResponse: readonly PostResponseHook[];
  readonly error: readonly ErrorHook[];
  /** True when no hook of any type is registered. */
  readonly empty: boolean;
}

/** Returned by the register methods: `dispose()` removes that registration. */
export interface HookRegistration {
  dispose(): void;
}

const aliases: Readonly<Record<string, HookType>> = {
  preRequest: 'preRequest',
  pre_request: 'preRequest',
  'pre-request': 'preRequest',
  postResponse: 'postResponse',
  post_response: 'postResponse',
  'post-response': 'postResponse',
  error: 'error',
  error_handler: 'error',
  errorHandler: 'error',
};

/** The canonical {@link HookType} for a spelling, or a `TypeError` listing the accepted ones. */
export function hookType(name: HookTypeName | string): HookType {
  const type = typeof name === 'string' ? aliases[name] : undefined;
  if (type === undefined) {
    throw new TypeError(`unknown hook type ${JSON.stringify(name)}: expected 'preRequest', 'postResponse' or 'error' (or pre_request, post_response, error_handler)`);
  }
  return type;
}

const empty: HookSnapshot = Object.freeze({ preRequest: [], postResponse: [], error: [], empty: true });

type AnyHook = PreRequestHook | PostResponseHook | ErrorHook;

/**
 * The hooks of one or more `hooks()` layers. Registering and removing are safe while requests
 * are in flight: each request runs the hooks registered when it started (the lists are copied
 * on write, so taking them costs one read).
 *
 * @example
 * const registry = new HookRegistry();
 * registry.registerPreRequestHook(function addRequestId(ctx) {
 *   ctx.updateHeaders({ 'X-Request-ID': crypto.randomUUID() });
 * });
 * const client = compose().use(hooks(registry)).build();
 */
export class HookRegistry {
  #snapshot: HookSnapshot = empty;

  /** Adds a pre-request hook, run after those already registered. */
  registerPreRequestHook(hook: PreRequestHook): HookRegistration {
    return this.#add('preRequest', hook);
  }

  /** Adds a post-response hook, run after those already registered. */
  registerPostResponseHook(hook: PostResponseHook): HookRegistration {
    return this.#add('postResponse', hook);
  }

  /** Adds an error hook, run after those already registered. */
  registerErrorHook(hook: ErrorHook): HookRegistration {
    return this.#add('error', hook);
  }

  /** Removes the first registration of `hook` under `type`; false when it was not registered. */
  unregister(type: HookTypeName, hook: AnyHook): boolean {
    const kind = hookType(type);
    const list = this.#snapshot[kind] as readonly AnyHook[];
    const at = list.indexOf(hook);
    if (at === -1) return false;
    this.#update(kind, (current) => current.filter((_, i) => i !== at));
    return true;
  }

  /** Removes every hook of `type`, or every hook. */
  clear(type?: HookTypeName): void {
    if (type === undefined) this.#snapshot = empty;
    else this.#update(hookType(type), () => []);
  }

  /** The names of the registered hooks (a function's `name`, or `anonymous`), by type. */
  list(): HookList {
    const names = (list: readonly AnyHook[]): string[] => list.map((hook) => hook.name || 'anonymous');
    const { preRequest, postResponse, error } = this.#snapshot;
    return { preRequest: names(preRequest), postResponse: names(postResponse), error: names(error) };
  }

  /** The hooks as they are now; a request takes this once and runs it whatever changes later. */
  snapshot(): HookSnapshot {
    return this.#snapshot;
  }

  #add(kind: HookType, hook: AnyHook): HookRegistration {
    if (typeof hook !== 'function') throw new TypeError(`register ${kind} hook: expected a function, got ${hook === null ? 'null' : typeof hook}`);
    this.#update(kind, (list) => [...list, hook]);
    let active = true;
    return {
      dispose: () => {
        if (!active) return;
        active = false;
        this.unregister(kind, hook);
      },
    };
  }

  #update(type: HookType, change: (list: readonly AnyHook[]) => AnyHook[]): void {
    const current = this.#snapshot;
    const next = { ...current, [type]: Object.freeze(change(current[type] as readonly AnyHook[])) };
    next.empty = next.preRequest.length === 0 && next.postResponse.length === 0 && next.error.length === 0;
    this.#snapshot = Object.freeze(next);
  }
}
