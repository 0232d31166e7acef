import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway CA and a server certificate it issued, for HTTPS test servers. */
export interface TestCertificates {
  /** The CA certificate (PEM): trust it with `tls({ ca })` or `ctx.tls.ca`. */
  readonly ca: string;
  /** The server certificate (PEM), valid for 127.0.0.1, ::1 and localhost. */
  readonly cert: string;
  /** The server's private key (PEM). */
  readonly key: string;
}

let made: TestCertificates | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Makes (once per process) a CA and a server certificate for 127.0.0.1, ::1 and localhost with
 * the openssl command line, valid two days. Nothing secret is ever committed: every test run makes
 * its own keys.
 *
 * @example
 * const { ca, cert, key } = testCertificates();
 * const server = await createTestServer({ tls: { cert, key } });
 * const client = compose().use(tls({ ca })).build();
 */
export function testCertificates(): TestCertificates {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), 'shallot-certs-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];
    openssl(dir, ['req', '-x509', '-new', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=shallot test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    openssl(dir, ['req', '-x509', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.crt', '-subj', '/CN=localhost',
      '-CA', 'ca.crt', '-CAkey', 'ca.key', '-addext', 'basicConstraints=CA:FALSE',
      '-addext', 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost', '-addext', 'extendedKeyUsage=serverAuth']);
    const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
    made = { ca: read('ca.crt'), cert: read('server.crt'), key: read('server.key') };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
