export { hedge, type HedgeContext } from './hedge.js';
export { hedgeOptionsSchema, type HedgeOptions, type ResolvedHedgeOptions } from './options.js';
