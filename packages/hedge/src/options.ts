import { z } from 'zod';

/** Options of `hedge()`: give `delayMs`, `percentile`, or both. */
export const hedgeOptionsSchema = z
  .strictObject({
    /**
     * Send a copy when the request has not answered after this long. With `percentile`, the
     * delay used until a host has `minSamples` latencies recorded.
     */
    delayMs: z.number().positive().max(2_147_483_647).optional(),
    /**
     * Send a copy when the request is slower than this percentile (e.g. 95) of the latencies
     * recently observed for its host.
     */
    percentile: z.number().gt(0).lt(100).optional(),
    /** Latencies a host needs before `percentile` is used. @default 20 */
    minSamples: z.number().int().min(1).max(10_000).default(20),
    /** Recent latencies kept per host. @default 200 */
    sampleSize: z.number().int().min(10).max(10_000).default(200),
    /** Hosts whose latencies are kept; the oldest is forgotten past this. @default 1_000 */
    maxHosts: z.number().int().min(1).default(1_000),
    /** Copies sent besides the first, each a further delay apart. @default 1 */
    maxHedges: z.number().int().min(1).max(10).default(1),
    /** Copies as a fraction of hedgeable requests (0.1: at most one in ten), plus one to start with. @default 0.1 */
    maxExtraLoad: z.number().min(0).max(10).default(0.1),
  })
  .refine((o) => o.delayMs !== undefined || o.percentile !== undefined, { message: 'set delayMs, percentile, or both' });

/** What users pass to `hedge()`. */
export type HedgeOptions = z.input<typeof hedgeOptionsSchema>;
/** {@link HedgeOptions} with defaults applied. */
export type ResolvedHedgeOptions = z.output<typeof hedgeOptionsSchema>;
