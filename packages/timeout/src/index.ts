export { timeoutOptionsSchema, type ResolvedTimeoutOptions, type TimeoutOptions } from './options.js';
export { timeout } from './timeout.js';
