import type { Logger } from '@shallot/core';
import { z } from 'zod';

/**
 * TLS material: a PEM string, the bytes of a file (`Buffer`/`Uint8Array`), or a file path (a
 * string without a `-----BEGIN` line). Files are read when `tls()` is built and on `reload()`.
 */
const materialMessage = 'expected a PEM string, a file path, or a Buffer';
const material = z.union([z.string().min(1), z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: materialMessage })], {
  message: materialMessage,
});

const tlsVersion = z.enum(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

/** `sha256/` and the base64 of a 32-byte digest: 43 characters and one `=`. */
const pinPattern = /^sha256\/[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/** An SPKI SHA-256 pin, `sha256/<base64>`, as HPKP and OkHttp write them. */
const pin = z
  .string()
  .regex(pinPattern, { message: "expected an SPKI pin 'sha256/<base64 of a SHA-256 digest>' (44 base64 characters, as spkiPin() returns)" });

/**
 * `host`, `host:port`, `*.example.com` (any subdomain, not the apex) or `*.example.com:port`;
 * IPv6 addresses in brackets (`[::1]:8443`).
 */
const endpointPattern = /^(?:(?:\*\.)?[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const forbiddenKeys = ['__proto__', 'constructor', 'prototype'];

const endpointShape = {
  /** Client certificate (chain), PEM or a file path. Needs `key`. */
  cert: material.optional(),
  /** Client private key, PEM or a file path; encrypted keys need `passphrase`. */
  key: material.optional(),
  /** Passphrase of an encrypted `key` or of the `pfx`. */
  passphrase: z.string().optional(),
  /** PKCS#12 bundle (key and certificate): its bytes or a file path. Instead of `cert` and `key`. */
  pfx: material.optional(),
  /** CA certificates that verify the server: PEM, bytes or file paths (one or a list of bundles). */
  ca: z.union([material, z.array(material).min(1)], { message: `${materialMessage}, or a list of them` }).optional(),
  /** `replace`: trust `ca` alone; `append`: Node's bundled root CAs and `ca`. */
  caMode: z.enum(['append', 'replace']).optional(),
  /** Verify the server certificate and host name. Turning it off logs a warning once. */
  rejectUnauthorized: z.boolean().optional(),
  /** Lowest TLS version to negotiate. */
  minVersion: tlsVersion.optional(),
  /** Highest TLS version to negotiate. */
  maxVersion: tlsVersion.optional(),
  /** OpenSSL cipher list (TLS 1.2 ciphers and TLS 1.3 suite names). */
  ciphers: z.string().min(1).optional(),
  /** SNI name sent, and the name the server certificate is checked against. */
  servername: z.string().min(1).optional(),
  /**
   * SPKI SHA-256 pins (`sha256/<base64>`): the connection is accepted only if the leaf, or a
   * certificate of its verified chain, has one of these public keys. `[]` turns pinning off.
   */
  pins: z.array(pin).optional(),
};

/** The TLS settings of one endpoint (`tls({ endpoints: { 'host': {...} } })`); unset fields inherit. */
export const tlsEndpointOptionsSchema = z.strictObject(endpointShape);

/** Options of `tls()`: TLS settings for every request, and per-endpoint overrides. */
export const tlsOptionsSchema = z.strictObject({
  ...endpointShape,
  /** @default 'replace' */
  caMode: z.enum(['append', 'replace']).default('replace'),
  /** @default true */
  rejectUnauthorized: z.boolean().default(true),
  /**
   * Per-host settings, keyed by `host`, `host:port` or `*.example.com`; the most specific
   * match wins. Fields an endpoint leaves unset inherit the top-level ones, except the client
   * identity (`cert`, `key`, `pfx`, `passphrase`), which is inherited only as a whole.
   */
  endpoints: z
    .preprocess((value, ctx) => {
      // Checked before parsing: building the record would drop these silently (`__proto__` sets
      // the prototype instead of a key).
      if (value !== null && typeof value === 'object') {
        for (const key of forbiddenKeys) {
          if (Object.prototype.hasOwnProperty.call(value, key)) ctx.addIssue({ code: 'custom', message: `'${key}' is not an endpoint pattern (a forbidden key)` });
        }
      }
      return value;
    }, z.record(z.string(), tlsEndpointOptionsSchema))
    .superRefine((endpoints, ctx) => {
      for (const pattern of Object.keys(endpoints)) {
        if (endpointPattern.test(pattern)) continue;
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(pattern)} is not an endpoint pattern; expected 'host', 'host:port' or '*.example.com' (TLS settings apply per connection, so no scheme or path)`,
        });
      }
    })
    .optional(),
  /** Re-read the files given as paths when they change (`fs.watch` on their folders). @default false */
  watch: z.boolean().default(false),
  /** Quiet time after a file change before re-reading, so a cert and key written together load once. @default 100 */
  watchDebounceMs: z.number().int().min(0).max(60_000).default(100),
  /** Where warnings and reload failures go. @default ctx.log (the client's logger) */
  logger: z
    .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).warn === 'function', {
      message: 'expected a pino-compatible logger',
    })
    .optional(),
});

/** What users pass to `tls()`. */
export type TlsOptions = z.input<typeof tlsOptionsSchema>;
/** {@link TlsOptions} with defaults applied. */
export type ResolvedTlsOptions = z.output<typeof tlsOptionsSchema>;
/** The TLS settings of one endpoint, as users write them. */
export type TlsEndpointOptions = z.input<typeof tlsEndpointOptionsSchema>;
/** {@link TlsEndpointOptions} as validated. */
export type ResolvedTlsEndpointOptions = z.output<typeof tlsEndpointOptionsSchema>;
