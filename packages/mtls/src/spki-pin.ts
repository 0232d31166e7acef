import { createHash, X509Certificate } from 'node:crypto';

/**
 * The SPKI SHA-256 pin of a certificate: `sha256/` and the base64 SHA-256 digest of its
 * DER-encoded SubjectPublicKeyInfo, as HPKP and OkHttp write pins. The pin names the key, not
 * the certificate, so it survives renewals that keep the key.
 *
 * @param certificate - a PEM certificate (the first one of a bundle is used), its DER bytes, or
 *   an `X509Certificate`
 * @example
 * const pin = spkiPin(readFileSync('server.crt')); // 'sha256/…' (44 base64 characters)
 * tls({ ca: 'ca.crt', pins: [pin] });
 */
export function spkiPin(certificate: string | Uint8Array | X509Certificate): string {
  const x509 = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  return pinOf(x509);
}

/** The pin of a parsed certificate. */
export function pinOf(x509: X509Certificate): string {
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`;
}
