export { ErrorContext, RequestContext, ResponseContext, type RequestHookOptions } from './contexts.js';
export {
  hookType,
  HookRegistry,
  type ErrorHook,
  type HookList,
  type HookRegistration,
  type HookSnapshot,
  type HookType,
  type HookTypeName,
  type PostResponseHook,
  type PreRequestHook,
} from './hook-registry.js';
export { hooks, type HooksMiddleware } from './hooks.js';
export { hooksOptionsSchema, type HooksOptions, type ResolvedHooksOptions } from './options.js';
