export { endpointOf, type EndpointContext } from './endpoint-context.js';
export { isNoHealthyEndpointError, NoHealthyEndpointError } from './errors.js';
export {
  type DiscoveryErrorEvent,
  type EjectEvent,
  type EndpointsChangeEvent,
  type HealthChangeEvent,
  type ReadmitEvent,
  type Subscription,
} from './events.js';
export { loadBalancer, type LoadBalancerControls, type LoadBalancerMiddleware } from './load-balancer.js';
export {
  endpointSchema,
  healthCheckOptionsSchema,
  loadBalancerOptionsSchema,
  outlierDetectionOptionsSchema,
  strategies,
  type EndpointInput,
  type EndpointProvider,
  type EndpointSource,
  type EndpointSpec,
  type HealthCheckOptions,
  type LoadBalancerOptions,
  type OutlierDetectionOptions,
  type ResolvedHealthCheckOptions,
  type ResolvedLoadBalancerOptions,
  type ResolvedOutlierDetectionOptions,
  type Strategy,
} from './options.js';
export { type EndpointStats } from './stats.js';
