import { circuitOpenAlert } from './circuit-open-alert.js';
import { circuitOpenAlertOptionsSchema } from './options.js';

/**
 * What the `shallot` CLI registers when a config file lists this package in `plugins`, so
 * `{ "use": "circuitOpenAlert", "webhookUrl": "..." }` validates and builds. Programs register it
 * with `registerMiddleware(shallotMiddleware)` from `@shallot/cli`.
 */
export const shallotMiddleware = {
  name: 'circuitOpenAlert',
  schema: circuitOpenAlertOptionsSchema,
  factory: circuitOpenAlert,
  package: 'shallot-middleware-circuit-open-alert',
  description: 'Posts to a webhook when a circuit breaker opens.',
} as const;
