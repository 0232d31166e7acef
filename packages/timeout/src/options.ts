import { z } from 'zod';

const duration = z.number().positive().finite();

/** Options of `timeout()`; at least one bound must be set. */
export const timeoutOptionsSchema = z
  .strictObject({
    /** Bound on the whole call through this layer (placed outside retry: retries and backoff included). */
    totalMs: duration.optional(),
    /** Bound on one pass through this layer (placed inside retry: one attempt). */
    attemptMs: duration.optional(),
    /** Bound on establishing each connection (TCP and TLS), applied by the transport. */
    connectMs: duration.optional(),
    /** Bound on waiting for the response headers and on each idle gap in the body, applied by the transport. */
    readMs: duration.optional(),
  })
  .refine((o) => o.totalMs !== undefined || o.attemptMs !== undefined || o.connectMs !== undefined || o.readMs !== undefined, {
    message: 'set at least one of totalMs, attemptMs, connectMs, readMs',
  });

/** What users pass to `timeout()`. */
export type TimeoutOptions = z.input<typeof timeoutOptionsSchema>;
/** {@link TimeoutOptions} as validated. */
export type ResolvedTimeoutOptions = z.output<typeof timeoutOptionsSchema>;
