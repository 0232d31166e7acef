import { z } from 'zod';

/** Options of `circuitOpenAlert()`. JSON-friendly, so config files can set them too. */
export const circuitOpenAlertOptionsSchema = z.strictObject({
  /** Where the alert is posted (a JSON body: `{ event, key, at, status?, error? }`). */
  webhookUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** Headers sent with each alert (an authorization for the webhook, say). @default {} */
  headers: z.record(z.string(), z.string()).default({}),
  /** At most one alert per circuit key in this long. @default 60_000 */
  minIntervalMs: z.number().int().min(0).default(60_000),
  /** Bound on one delivery of an alert. @default 5_000 */
  timeoutMs: z.number().int().positive().default(5_000),
});

/** What users pass to `circuitOpenAlert()`. */
export type CircuitOpenAlertOptions = z.input<typeof circuitOpenAlertOptionsSchema>;
/** {@link CircuitOpenAlertOptions} with defaults applied. */
export type ResolvedCircuitOpenAlertOptions = z.output<typeof circuitOpenAlertOptionsSchema>;
