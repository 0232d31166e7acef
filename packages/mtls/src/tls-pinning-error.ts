import { errorGuard, type RequestTarget, ShallotError } from '@shallot/core';

/** What a {@link TlsPinningError} reports. */
export interface TlsPinningErrorInit {
  /** The host name the certificate was checked for (the SNI name). */
  host: string;
  /** The SPKI pins of the certificate chain the server presented, leaf first. */
  seen: readonly string[];
  /** The pins that were configured for this host. */
  expected: readonly string[];
  /** The request that was being sent, named in the message. */
  request?: RequestTarget | undefined;
  /** The error this one wraps. */
  cause?: unknown;
}

/**
 * The server's certificate chain has none of the configured SPKI pins. The connection was
 * closed during the TLS handshake, before any byte of the request was written, so the request
 * is safe to report as never sent. It is not a `NetworkError`: retrying cannot help, and retry
 * policies that retry network failures leave it alone.
 */
export class TlsPinningError extends ShallotError {
  /** The host name the certificate was checked for. */
  readonly host: string;
  /** The SPKI pins (`sha256/<base64>`) of the presented chain, leaf first. */
  readonly seen: readonly string[];
  /** The pins that were configured. */
  readonly expected: readonly string[];

  constructor(init: TlsPinningErrorInit) {
    const seen = init.seen.length === 0 ? 'unknown' : init.seen.join(', ');
    super(
      'ERR_TLS_PIN',
      `certificate pinning failed for ${init.host}: the chain's public keys are ${seen} (leaf first); expected one of ${init.expected.join(', ')}`,
      { request: init.request, cause: init.cause },
    );
    this.name = 'TlsPinningError';
    this.host = init.host;
    this.seen = Object.freeze([...init.seen]);
    this.expected = Object.freeze([...init.expected]);
  }
}

/** True for a {@link TlsPinningError} from any installed copy of `@shallot/mtls`. */
export const isTlsPinningError = errorGuard<TlsPinningError>('ERR_TLS_PIN');
