// Test-only: a throwaway PKI made with the openssl CLI in a temp folder (EC P-256, valid 2
// days). Nothing secret is committed; every run makes its own keys.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Passphrase of the encrypted client key and of the PKCS#12 bundle. */
export const passphrase = 'correct horse';

export interface TestPki {
  readonly dir: string;
  /** Path of a file in the PKI folder. */
  path(name: string): string;
  /** Contents of a file in the PKI folder. */
  read(name: string): Buffer;
  /** Issues another certificate (see `issue`). */
  issue(name: string, options: IssueOptions): void;
  /** Deletes the folder. */
  remove(): void;
}

export interface IssueOptions {
  cn: string;
  /** Signing CA's base name (`ca`, `int`, `other-ca`); none: self-signed. */
  by?: string;
  san?: string;
  usage?: 'serverAuth' | 'clientAuth';
  isCa?: boolean;
  /** Encrypt the key with this passphrase. */
  passphrase?: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, o: IssueOptions): void {
  const args = ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '2'];
  args.push('-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${o.cn}`);
  args.push(...(o.passphrase === undefined ? ['-nodes'] : ['-passout', `pass:${o.passphrase}`]));
  if (o.by !== undefined) args.push('-CA', `${o.by}.crt`, '-CAkey', `${o.by}.key`);
  if (o.isCa === true) {
    args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  } else {
    args.push('-addext', 'basicConstraints=CA:FALSE');
    if (o.usage !== undefined) args.push('-addext', `extendedKeyUsage=${o.usage}`);
  }
  if (o.san !== undefined) args.push('-addext', `subjectAltName=${o.san}`);
  openssl(dir, args);
}

/**
 * Makes a root CA (`ca`), an intermediate (`int`), a server certificate for 127.0.0.1 and
 * localhost issued by the intermediate (`server.crt` holds leaf and intermediate,
 * `server-leaf.crt` the leaf alone), a server certificate for `api.test` only (`api`), client
 * certificates `client-one`, `client-two` (plain keys) and `client-locked` (key encrypted with
 * {@link passphrase}) issued by the root, `client-one.p12` (PKCS#12 with the same passphrase),
 * and an unrelated CA (`other-ca`) with a server certificate of its own (`rogue`).
 */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'shallot-mtls-'));
  issue(dir, 'ca', { cn: 'shallot test root', isCa: true });
  issue(dir, 'int', { cn: 'shallot test intermediate', by: 'ca', isCa: true });
  issue(dir, 'server-leaf', { cn: 'localhost', by: 'int', san: 'IP:127.0.0.1,DNS:localhost', usage: 'serverAuth' });
  writeFileSync(join(dir, 'server.crt'), Buffer.concat([readFileSync(join(dir, 'server-leaf.crt')), readFileSync(join(dir, 'int.crt'))]));
  writeFileSync(join(dir, 'server.key'), readFileSync(join(dir, 'server-leaf.key')));
  issue(dir, 'api-leaf', { cn: 'api.test', by: 'int', san: 'DNS:api.test', usage: 'serverAuth' });
  writeFileSync(join(dir, 'api.crt'), Buffer.concat([readFileSync(join(dir, 'api-leaf.crt')), readFileSync(join(dir, 'int.crt'))]));
  writeFileSync(join(dir, 'api.key'), readFileSync(join(dir, 'api-leaf.key')));
  issue(dir, 'client-one', { cn: 'client-one', by: 'ca', usage: 'clientAuth' });
  issue(dir, 'client-two', { cn: 'client-two', by: 'ca', usage: 'clientAuth' });
  issue(dir, 'client-locked', { cn: 'client-locked', by: 'ca', usage: 'clientAuth', passphrase });
  openssl(dir, ['pkcs12', '-export', '-in', 'client-one.crt', '-inkey', 'client-one.key', '-passout', `pass:${passphrase}`, '-out', 'client-one.p12']);
  issue(dir, 'other-ca', { cn: 'unrelated root', isCa: true });
  issue(dir, 'rogue', { cn: 'localhost', by: 'other-ca', san: 'IP:127.0.0.1,DNS:localhost', usage: 'serverAuth' });
  return {
    dir,
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name)),
    issue: (name, options) => issue(dir, name, options),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
