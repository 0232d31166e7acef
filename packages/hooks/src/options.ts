import { z } from 'zod';

/** Options of `hooks()`. */
export const hooksOptionsSchema = z.strictObject({
  /**
   * Turn 4xx and 5xx responses into `HttpError` inside this layer, so error hooks see them (with
   * the response as `error.response`) and can answer with a fallback or ask for a re-send. The
   * client's own `throwHttpErrors` is checked after the whole onion, outside every hook.
   * @default false
   */
  throwHttpErrors: z.boolean().default(false).describe('Turn 4xx/5xx responses into HttpError inside the hooks layer, so error hooks see them'),
  /**
   * How many times one request is sent again because an error hook marked the error `handled`
   * without giving a fallback response. `0` never re-sends.
   * @default 1
   */
  maxHookRetries: z
    .number()
    .int()
    .min(0)
    .max(10)
    .default(1)
    .describe('Re-sends per request when an error hook marks the error handled without a fallback response'),
});

/** What users pass to `hooks()`. */
export type HooksOptions = z.input<typeof hooksOptionsSchema>;
/** {@link HooksOptions} as validated. */
export type ResolvedHooksOptions = z.output<typeof hooksOptionsSchema>;
