import { X509Certificate } from 'node:crypto';
import { checkServerIdentity as checkHostName, type DetailedPeerCertificate, type PeerCertificate, type TLSSocket } from 'node:tls';
import { pinOf } from './spki-pin.js';
import { TlsPinningError } from './tls-pinning-error.js';

// Longer chains than this are not walked for pins (real ones have 2 to 4 certificates).
const maxChainLength = 10;
// Pinning failures remembered per TLS configuration, for transports that lose the error object.
const maxRemembered = 16;

/**
 * The SPKI pins of the chain the server presented, leaf first. The leaf always counts: the
 * handshake proved that the server holds its private key. An issuer counts only if its key
 * really signed the certificate below it (checked here, not assumed from names), so a pinned
 * CA's certificate appended to a chain it did not sign cannot satisfy a pin.
 */
export function chainPins(cert: PeerCertificate): string[] {
  const pins: string[] = [];
  let current: X509Certificate;
  try {
    current = new X509Certificate(cert.raw);
  } catch {
    return pins;
  }
  pins.push(pinOf(current));
  let peer = cert as DetailedPeerCertificate;
  for (let depth = 1; depth < maxChainLength; depth++) {
    const next = peer.issuerCertificate as DetailedPeerCertificate | undefined;
    if (next === undefined || next === null || next === peer || next.raw === undefined) break;
    let issuer: X509Certificate;
    try {
      issuer = new X509Certificate(next.raw);
    } catch {
      break;
    }
    // A self-signed root lists itself as its issuer.
    if (issuer.raw.equals(current.raw)) break;
    if (!current.checkIssued(issuer) || !current.verify(issuer.publicKey)) break;
    pins.push(pinOf(issuer));
    current = issuer;
    peer = next;
  }
  return pins;
}

/**
 * The last pinning failures of one TLS configuration, by host. node-fetch replaces the error a
 * handshake failed with by its own `FetchError` (keeping only the `code`), so the middleware
 * finds the details here.
 */
export class PinFailureLog {
  readonly #byHost = new Map<string, TlsPinningError>();

  /** Remembers a failure (the most recent per host, a few hosts at most). */
  record(error: TlsPinningError): void {
    this.#byHost.delete(error.host);
    this.#byHost.set(error.host, error);
    if (this.#byHost.size > maxRemembered) {
      const oldest = this.#byHost.keys().next().value as string;
      this.#byHost.delete(oldest);
    }
  }

  /** The last failure for `host`, or else the most recent one. */
  find(host: string): TlsPinningError | undefined {
    const exact = this.#byHost.get(host);
    if (exact !== undefined) return exact;
    let last: TlsPinningError | undefined;
    for (const error of this.#byHost.values()) last = error;
    return last;
  }
}

/**
 * Makes the `checkServerIdentity` of a pinned configuration. Node calls it during the handshake
 * with the verified peer chain; it first runs Node's own host-name check, then requires one of
 * `expected` among the chain's pins. The error it returns makes Node destroy the socket before
 * the HTTP layer writes a byte. Node calls it only while `rejectUnauthorized` is on; without
 * verification, {@link pinningVerifier} checks the pins instead.
 */
export function pinningCheck(
  expected: readonly string[],
  log: PinFailureLog,
): (host: string, cert: PeerCertificate) => Error | undefined {
  const allowed = new Set(expected);
  return function checkServerIdentity(host, cert) {
    const mismatch = checkHostName(host, cert);
    if (mismatch !== undefined) return mismatch;
    const seen = chainPins(cert);
    if (seen.some((pin) => allowed.has(pin))) return undefined;
    const error = new TlsPinningError({ host, seen, expected });
    log.record(error);
    return error;
  };
}

/**
 * Makes the `verifyPeer` of a pinned configuration whose chain is not verified
 * (`rejectUnauthorized: false`, e.g. a self-signed server): the pins are then the only trust,
 * checked on the presented chain once the handshake is done. The transports hand the socket to
 * the HTTP layer only after this returned, so a mismatch writes no request byte.
 */
export function pinningVerifier(expected: readonly string[], log: PinFailureLog): (socket: TLSSocket) => Error | undefined {
  const allowed = new Set(expected);
  return function verifyPeer(socket) {
    const seen = chainPins(socket.getPeerCertificate(true));
    if (seen.some((pin) => allowed.has(pin))) return undefined;
    const name = (socket as TLSSocket & { servername?: string | false | null }).servername;
    const host = typeof name === 'string' && name !== '' ? name : (socket.remoteAddress ?? '');
    const error = new TlsPinningError({ host, seen, expected });
    log.record(error);
    return error;
  };
}
