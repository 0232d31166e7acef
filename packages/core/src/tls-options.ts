import { createHash } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/**
 * TLS settings a transport applies to the connections of one request, read from `ctx.tls`.
 * Each distinct configuration gets its own connection pool; connections are never shared
 * between configurations. Fields follow Node's `tls.connect()` options.
 */
export interface TlsOptions {
  /** Client certificate chain (PEM). */
  cert?: string | Buffer | Array<string | Buffer>;
  /** Client private key (PEM). */
  key?: string | Buffer | Array<string | Buffer>;
  /** Passphrase of the private key or the PFX. */
  passphrase?: string;
  /** PFX / PKCS#12 bundle holding key and certificate. */
  pfx?: string | Buffer | Array<string | Buffer>;
  /** Trusted CA certificates (PEM). Replaces Node's default roots unless combined by the caller. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate. @default true */
  rejectUnauthorized?: boolean;
  /** Lowest TLS version to negotiate. */
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** Highest TLS version to negotiate. */
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list. */
  ciphers?: string;
  /** SNI server name and the name the certificate is checked against. */
  servername?: string;
  /**
   * Called during the handshake with the peer certificate; return an Error to fail the
   * connection before any request byte is written (certificate pinning uses this).
   */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
  /**
   * Called once the handshake is done, whether or not the chain was verified
   * (`rejectUnauthorized: false` included); return an Error to fail the connection. Both
   * transports hand the socket to the HTTP layer only after it returned, so a failed check
   * writes no request byte. Pinning without a trusted chain uses this.
   */
  verifyPeer?: (socket: TLSSocket) => Error | undefined;
}

const keys = new WeakMap<TlsOptions, string>();
const functionIds = new WeakMap<object, number>();
let nextFunctionId = 0;

function part(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'function') {
    let id = functionIds.get(value);
    if (id === undefined) functionIds.set(value, (id = ++nextFunctionId));
    return `fn${id}`;
  }
  if (Array.isArray(value)) return `[${value.map(part).join(',')}]`;
  if (typeof value === 'string' || Buffer.isBuffer(value)) return createHash('sha256').update(value).digest('base64');
  return JSON.stringify(value) ?? '';
}

/**
 * A key naming one TLS configuration, for pooling connections per configuration: equal settings
 * give equal keys (certificates and keys compared by their SHA-256, callbacks by identity), so
 * `tls: { ca }` built afresh for each request still shares one pool. The key of an object is
 * computed once.
 */
export function tlsKey(tls: TlsOptions | undefined): string {
  if (tls === undefined) return '';
  let key = keys.get(tls);
  if (key === undefined) {
    const fields = Object.keys(tls).sort() as Array<keyof TlsOptions>;
    key = createHash('sha256')
      .update(fields.map((field) => `${field}=${part(tls[field])}`).join(';'))
      .digest('base64');
    keys.set(tls, key);
  }
  return key;
}
