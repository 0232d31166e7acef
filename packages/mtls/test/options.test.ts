// Construction: bad input fails at tls() with a message naming the option and the value;
// which settings a request gets (endpoints, inheritance, one object per configuration);
// spkiPin against the openssl CLI.
import { execSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { compose, isInvalidOptionsError } from '@shallot/core';
import { spkiPin, tls, type TlsOptions } from '@shallot/mtls';
import { mockTransport } from '@shallot/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, passphrase, type TestPki } from './pki.js';

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.remove());

/** The message of the InvalidOptionsError that tls(options) throws. */
function failure(options: unknown): string {
  try {
    tls(options as TlsOptions);
  } catch (error) {
    expect(isInvalidOptionsError(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('tls() accepted the options');
}

describe('bad input fails at construction', () => {
  it('names an unreadable file', () => {
    const message = failure({ cert: '/nonexistent/client.crt', key: pki.path('client-one.key') });
    expect(message).toMatch(/^tls\.cert: cannot read file "\/nonexistent\/client\.crt" \(ENOENT/);
  });

  it('names a key that does not match the certificate', () => {
    const message = failure({ cert: pki.path('client-one.crt'), key: pki.path('client-two.key') });
    expect(message).toContain('tls.key: the key in file');
    expect(message).toContain('does not match the certificate in tls.cert');
    expect(message).toContain('CN=client-one');
  });

  it('names a wrong passphrase, and an encrypted key given without one', () => {
    const locked = { cert: pki.path('client-locked.crt'), key: pki.path('client-locked.key') };
    expect(failure({ ...locked, passphrase: 'wrong' })).toMatch(/^tls\.passphrase: wrong passphrase for the encrypted key in tls\.key/);
    expect(failure(locked)).toMatch(/^tls\.key: the key in file ".*client-locked\.key" is encrypted; give its passphrase/);
    expect(failure({ pfx: pki.path('client-one.p12'), passphrase: 'wrong' })).toMatch(/^tls\.passphrase: wrong passphrase for the PKCS#12 bundle/);
  });

  it('names a malformed pin and its value', () => {
    expect(failure({ pins: ['sha256:ABC123...'] })).toBe(
      `tls.pins.0: expected an SPKI pin 'sha256/<base64 of a SHA-256 digest>' (44 base64 characters, as spkiPin() returns), got "sha256:ABC123..."`,
    );
    const sha1 = `sha1/${createHash('sha1').update('x').digest('base64')}`;
    expect(failure({ pins: [spkiPin(pki.read('ca.crt')), sha1] })).toMatch(/^tls\.pins\.1: expected an SPKI pin/);
  });

  it('accepts every well-formed pin and refuses digests of another length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        tls({ pins: [`sha256/${Buffer.from(digest).toString('base64')}`] });
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }).filter((d) => d.length !== 32),
        (digest) => /^tls\.pins\.0: expected an SPKI pin/.test(failure({ pins: [`sha256/${Buffer.from(digest).toString('base64')}`] })),
      ),
      { numRuns: 50 },
    );
  });

  it('accepts pins with rejectUnauthorized: false: the pins are then checked after the handshake (verifyPeer)', async () => {
    const pinned = tls({ pins: [spkiPin(pki.read('ca.crt'))], rejectUnauthorized: false });
    await using client = compose().use(pinned).build({ transport: mockTransport() });
    const { context } = await client.exchange('GET', 'https://api.example.test/');
    expect(context.tls?.verifyPeer).toBeTypeOf('function');
    expect(context.tls?.checkServerIdentity).toBeUndefined();
    expect(context.tls?.rejectUnauthorized).toBe(false);
  });

  it('names a certificate without its key, a pfx next to cert and key, and a passphrase with nothing to open', () => {
    expect(failure({ cert: pki.path('client-one.crt') })).toMatch(/^tls\.key: missing: a client certificate \(tls\.cert\) needs its private key/);
    expect(failure({ key: pki.path('client-one.key') })).toMatch(/^tls\.cert: missing/);
    expect(failure({ pfx: pki.path('client-one.p12'), cert: pki.path('client-one.crt'), key: pki.path('client-one.key'), passphrase })).toMatch(
      /^tls\.pfx: give either pfx or cert and key, not both/,
    );
    expect(failure({ passphrase })).toMatch(/^tls\.passphrase: a passphrase was given without a key or pfx/);
  });

  it('names a CA file with no certificate in it, and a list entry by its index', () => {
    expect(failure({ ca: pki.path('client-one.key') })).toMatch(/^tls\.ca: no PEM certificate .* in file ".*client-one\.key"/);
    expect(failure({ ca: [pki.path('ca.crt'), pki.path('client-one.key')] })).toMatch(/^tls\.ca\.1: no PEM certificate/);
    expect(failure({ ca: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' })).toMatch(
      /^tls\.ca: certificate 1 in the value given cannot be parsed/,
    );
  });

  it('names an unknown cipher list, versions in the wrong order, and bad enum values', () => {
    expect(failure({ ciphers: 'NO-SUCH-CIPHER' })).toMatch(/^tls\.ciphers: rejected by OpenSSL \(.*no cipher match/);
    expect(failure({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' })).toBe('tls.minVersion: minVersion TLSv1.3 is above maxVersion TLSv1.2');
    expect(failure({ maxVersion: 'TLSv1.4' })).toMatch(/^tls\.maxVersion: expected one of .*, got "TLSv1\.4"/);
    expect(failure({ caMode: 'merge' })).toMatch(/^tls\.caMode: expected one of "append" \| "replace", got "merge"/);
    expect(failure({ verify: false })).toMatch(/^tls: unknown option 'verify'/);
  });

  it('refuses a __proto__ endpoint from JSON instead of dropping it silently', () => {
    const endpoints = JSON.parse('{ "__proto__": { "rejectUnauthorized": false } }') as Record<string, unknown>;
    expect(failure({ endpoints })).toMatch(/^tls\.endpoints: '__proto__' is not an endpoint pattern/);
    expect(failure({ endpoints: JSON.parse('{ "constructor": {} }') })).toMatch(/'constructor' is not an endpoint pattern/);
  });

  it('names the endpoint whose settings are wrong', () => {
    const message = failure({
      endpoints: { 'api.example.com': { cert: pki.path('client-one.crt'), key: pki.path('client-two.key') } },
    });
    expect(message).toMatch(/^tls\.endpoints\["api\.example\.com"\]\.key: the key in file .* does not match the certificate in tls\.endpoints\["api\.example\.com"\]\.cert/);
    expect(failure({ endpoints: { 'https://api.example.com/v1/': {} } })).toMatch(/^tls\.endpoints: "https:\/\/api\.example\.com\/v1\/" is not an endpoint pattern; expected/);
  });
});

describe('which settings a request gets', () => {
  const patterns = {
    'api.example.com:8443': { servername: 'exact-with-port' },
    'api.example.com': { servername: 'exact' },
    '*.api.example.com': { servername: 'deep-wildcard' },
    '*.example.com': { servername: 'wildcard' },
    '*.example.com:8443': { servername: 'wildcard-with-port' },
    'plain.test:443': { servername: 'default-port' },
    '[::1]:9443': { servername: 'ipv6' },
  };

  async function servernameFor(url: string): Promise<string | undefined> {
    await using client = compose().use(tls({ endpoints: patterns })).build({ transport: mockTransport() });
    const { context } = await client.exchange('GET', url);
    return context.tls?.servername;
  }

  it('picks the most specific endpoint pattern', async () => {
    expect(await servernameFor('https://api.example.com:8443/')).toBe('exact-with-port');
    expect(await servernameFor('https://api.example.com/')).toBe('exact');
    expect(await servernameFor('https://API.Example.COM:9000/')).toBe('exact');
    expect(await servernameFor('https://v2.api.example.com/')).toBe('deep-wildcard');
    expect(await servernameFor('https://www.example.com/')).toBe('wildcard');
    expect(await servernameFor('https://www.example.com:8443/')).toBe('wildcard-with-port');
    expect(await servernameFor('https://a.b.example.com/')).toBe('wildcard');
    expect(await servernameFor('https://plain.test/')).toBe('default-port');
    expect(await servernameFor('https://[::1]:9443/')).toBe('ipv6');
    expect(await servernameFor('https://example.com/')).toBeUndefined();
    expect(await servernameFor('https://notexample.com/')).toBeUndefined();
  });

  it('builds each configuration once, so the transport pools its connections', async () => {
    await using client = compose().use(tls({ ca: pki.path('ca.crt'), endpoints: patterns })).build({ transport: mockTransport() });
    const tlsOf = async (url: string) => (await client.exchange('GET', url)).context.tls;
    const first = await tlsOf('https://api.example.com/a');
    expect(await tlsOf('https://api.example.com/b')).toBe(first);
    expect(await tlsOf('https://www.example.com/')).not.toBe(first);
    expect(await tlsOf('https://elsewhere.test/')).toBe(await tlsOf('https://other.test/'));
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('lets an endpoint inherit unset fields, and the client identity only as a whole', async () => {
    const middleware = tls({
      cert: pki.path('client-one.crt'),
      key: pki.path('client-one.key'),
      ca: pki.path('ca.crt'),
      minVersion: 'TLSv1.3',
      endpoints: {
        'own.test': { cert: pki.path('client-locked.crt'), key: pki.path('client-locked.key'), passphrase },
        'pinned.test': { pins: [spkiPin(pki.read('ca.crt'))] },
      },
    });
    await using client = compose().use(middleware).build({ transport: mockTransport() });
    const own = (await client.exchange('GET', 'https://own.test/')).context.tls;
    const pinned = (await client.exchange('GET', 'https://pinned.test/')).context.tls;
    const subject = (cert: unknown) => new X509Certificate(cert as Buffer).subject;
    expect(subject(own?.cert)).toBe('CN=client-locked');
    expect(own?.passphrase).toBe(passphrase);
    expect(own?.minVersion).toBe('TLSv1.3');
    expect((own?.ca as Buffer[])[0]?.equals(pki.read('ca.crt'))).toBe(true);
    expect(subject(pinned?.cert)).toBe('CN=client-one');
    expect(pinned?.passphrase).toBeUndefined();
    expect(typeof pinned?.checkServerIdentity).toBe('function');
    expect(own?.checkServerIdentity).toBeUndefined();
  });

  it('shows files and settings in describe(), never key material or passphrases', async () => {
    const key = pki.read('client-locked.key').toString();
    const middleware = tls({ cert: pki.path('client-locked.crt'), key, passphrase, ca: pki.path('ca.crt') });
    await using client = compose().use(middleware).build({ transport: mockTransport() });
    const layer = client.describe().find((l) => l.name === 'tls');
    expect(layer?.options).toMatchObject({ cert: pki.path('client-locked.crt'), key: '[redacted]', passphrase: '[redacted]', caMode: 'replace' });
    const text = JSON.stringify(client.describe());
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(passphrase);
  });
});

describe('spkiPin', () => {
  it('matches the pin openssl computes from the public key', () => {
    const file = pki.path('server-leaf.crt');
    const expected = execSync(
      `openssl x509 -in '${file}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | openssl base64 -A`,
    )
      .toString()
      .trim();
    expect(spkiPin(pki.read('server-leaf.crt'))).toBe(`sha256/${expected}`);
  });

  it('takes PEM text, DER bytes or an X509Certificate, and names the key, not the certificate', () => {
    const x509 = new X509Certificate(pki.read('ca.crt'));
    const pin = spkiPin(x509);
    expect(spkiPin(pki.read('ca.crt').toString())).toBe(pin);
    expect(spkiPin(x509.raw)).toBe(pin);
    expect(spkiPin(pki.read('client-one.crt'))).not.toBe(pin);
    // A renewal that keeps the key keeps the pin.
    execSync(
      `openssl req -x509 -new -key ca.key -days 3 -subj '/CN=renewed root' -out renewed.crt`,
      { cwd: pki.dir, stdio: 'ignore' },
    );
    expect(spkiPin(pki.read('renewed.crt'))).toBe(pin);
  });
});
