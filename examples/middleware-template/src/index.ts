export { type CircuitOpenAlert, circuitOpenAlert, type CircuitOpenAlertContext, type CircuitOpenAlertMiddleware } from './circuit-open-alert.js';
export { AlertDeliveryError, isAlertDeliveryError } from './errors.js';
export { type CircuitOpenAlertOptions, circuitOpenAlertOptionsSchema, type ResolvedCircuitOpenAlertOptions } from './options.js';
export { shallotMiddleware } from './registration.js';
