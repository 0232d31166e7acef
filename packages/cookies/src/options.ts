import { z } from 'zod';
import { CookieJar } from 'tough-cookie';

/** Options of `cookies()`. */
export const cookiesOptionsSchema = z.strictObject({
  /**
   * The jar cookies are kept in: tough-cookie's `CookieJar` (the RFC 6265 jar got uses), with a
   * store of your choice. @default a new in-memory jar per `cookies()` layer
   */
  jar: z.custom<CookieJar>((v) => v instanceof CookieJar, { message: "expected a tough-cookie CookieJar (import { CookieJar } from 'tough-cookie')" }).optional(),
  /** Send cookies the caller's own `Cookie` header does not already name. @default true */
  mergeWithCallerCookies: z.boolean().default(true),
});

/** What users pass to `cookies()`. */
export type CookiesOptions = z.input<typeof cookiesOptionsSchema>;
/** {@link CookiesOptions} as validated. */
export type ResolvedCookiesOptions = z.output<typeof cookiesOptionsSchema>;
