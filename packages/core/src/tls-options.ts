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

const ids = new WeakMap<TlsOptions, string>();
let nextId = 0;

/**
 * A key naming one TLS configuration, for pooling connections per configuration. The same
 * object always gets the same key; distinct objects get distinct keys (build the TLS options
 * once, as the `tls()` middleware does, so their connections are shared).
 */
export function tlsKey(tls: TlsOptions | undefined): string {
  if (tls === undefined) return '';
  let id = ids.get(tls);
  if (id === undefined) {
    id = `tls${++nextId}`;
    ids.set(tls, id);
  }
  return id;
}
