export {
  type ClientConfig,
  type ClientConfigKind,
  clientFromConfig,
  type ClientFromConfigOptions,
  type ConfiguredClient,
  parseClientConfig,
  type ParsedClientConfig,
} from './client-from-config.js';
export { type ConfigIssue } from './config-issues.js';
export { type MiddlewareConfig, type StackConfig, stackConfigSchema, type TransportConfig, transportConfigSchema, type TransportKind } from './config-schema.js';
export {
  type ConnectionManagerConfig,
  connectionManagerConfigSchema,
  connectionManagerFromConfig,
  type ConnectionManagerFromConfigOptions,
  type ConnectionManagerJsonOptions,
  isConnectionManagerConfig,
  parseConnectionManagerConfig,
} from './connection-manager-config.js';
export { jsonOnly } from './json-only.js';
export { configFileJsonSchema, configJsonSchema, connectionManagerConfigJsonSchema, stackConfigJsonSchema } from './json-schema.js';
export { type MiddlewareRegistration, type RegisteredMiddleware, registeredMiddlewares, registerMiddleware } from './registry.js';
export {
  isStackConfigError,
  middlewaresFromConfig,
  parseStackConfig,
  type ResolvedStackConfig,
  StackConfigError,
  stackFromConfig,
  type StackFromConfigOptions,
  transportFromConfig,
} from './stack-from-config.js';
export { createLayerCounts, type LayerCounts, type LoadProgress, type LoadResult, type LoadRunOptions, percentile, runLoad } from './load-run.js';
export { main } from './main.js';
