import { writeFileSync } from 'node:fs';
import { ConnectionManager, isNetworkError, isTlsPinningError } from '@shallot/connection-manager';
import { spkiPin } from '@shallot/mtls';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, passphrase, type TestPki } from '../../mtls/test/pki.js';
import { hostOf, rejection, transports } from './helpers.js';

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
  // One file holding a certificate and its key, as requests' cert='client.pem'.
  writeFileSync(pki.path('client-one.pem'), Buffer.concat([pki.read('client-one.crt'), pki.read('client-one.key')]));
});
afterAll(() => pki.remove());

/** An HTTPS server with the test PKI's server certificate, answering with the client certificate's CN. */
async function httpsServer(requestCert: boolean): Promise<TestServer> {
  const server = await createTestServer({
    tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt'), requestCert, rejectUnauthorized: requestCert },
  });
  server.route('/who', (req, res) => void res.end(req.peerCertificate?.subject?.CN ?? 'anonymous'));
  return server;
}

describe.each(transports)('TLS over %s', (transport) => {
  it('verify: true refuses an unknown CA; a CA bundle (path or PEM) is trusted; false turns verification off', async () => {
    await using server = await httpsServer(false);
    const url = `${server.url}/who`;
    await using strict = new ConnectionManager({ transport, maxRetries: 0 });
    expect(isNetworkError(await rejection(strict.get(url)))).toBe(true);
    await using byPath = new ConnectionManager({ transport, verify: pki.path('ca.crt') });
    expect(await (await byPath.get(url)).text()).toBe('anonymous');
    await using byPem = new ConnectionManager({ transport, verify: pki.read('ca.crt').toString() });
    expect(await (await byPem.get(url)).text()).toBe('anonymous');
    await using off = new ConnectionManager({ transport, verify: false });
    expect(await (await off.get(url)).text()).toBe('anonymous');
    expect(server.hits('/who')).toBe(3);
  });

  it('cert presents a client certificate: [cert, key], { cert, key, passphrase } or one file with both', async () => {
    await using server = await httpsServer(true);
    const url = `${server.url}/who`;
    const verify = pki.path('ca.crt');
    await using pair = new ConnectionManager({ transport, verify, cert: [pki.path('client-one.crt'), pki.path('client-one.key')] });
    expect(await (await pair.get(url)).text()).toBe('client-one');
    await using locked = new ConnectionManager({ transport, verify, cert: { cert: pki.path('client-locked.crt'), key: pki.path('client-locked.key'), passphrase } });
    expect(await (await locked.get(url)).text()).toBe('client-locked');
    await using triple = new ConnectionManager({ transport, verify, cert: [pki.path('client-locked.crt'), pki.path('client-locked.key'), passphrase] });
    expect(await (await triple.get(url)).text()).toBe('client-locked');
    await using combined = new ConnectionManager({ transport, verify, cert: pki.path('client-one.pem') });
    expect(await (await combined.get(url)).text()).toBe('client-one');
    await using anonymous = new ConnectionManager({ transport, verify, maxRetries: 0 });
    expect(isNetworkError(await rejection(anonymous.get(url)))).toBe(true);
  });

  it('verify and cert per endpoint (the original ignored them in endpoint configs)', async () => {
    await using mutual = await httpsServer(true);
    await using plain = await httpsServer(false);
    await using manager = new ConnectionManager({
      transport,
      maxRetries: 0,
      verify: pki.path('ca.crt'),
      endpointConfigs: {
        [hostOf(mutual)]: { cert: [pki.path('client-two.crt'), pki.path('client-two.key')] },
        [hostOf(plain)]: { verify: false },
      },
    });
    expect(await (await manager.get(`${mutual.url}/who`)).text()).toBe('client-two');
    expect(await (await manager.get(`${plain.url}/who`)).text()).toBe('anonymous');
  });

  it('tls.pins pin the server key during the handshake', async () => {
    await using server = await httpsServer(false);
    const right = spkiPin(pki.read('server-leaf.crt'));
    const wrong = spkiPin(pki.read('rogue.crt'));
    await using pinned = new ConnectionManager({ transport, verify: pki.path('ca.crt'), tls: { pins: [right] } });
    expect(await (await pinned.get(`${server.url}/who`)).text()).toBe('anonymous');
    await using mispinned = new ConnectionManager({ transport, maxRetries: 0, verify: pki.path('ca.crt'), tls: { pins: [wrong] } });
    expect(isTlsPinningError(await rejection(mispinned.get(`${server.url}/who`)))).toBe(true);
    expect(server.hits('/who')).toBe(1);
  });
});

describe('TLS at run time', () => {
  it('setSslVerification and setClientCertificate apply to the next request', async () => {
    await using server = await httpsServer(true);
    const url = `${server.url}/who`;
    await using manager = new ConnectionManager({ maxRetries: 0 });
    expect(isNetworkError(await rejection(manager.get(url)))).toBe(true);
    manager.setSslVerification(pki.path('ca.crt'));
    expect(isNetworkError(await rejection(manager.get(url)))).toBe(true);
    manager.setClientCertificate({ cert: pki.path('client-one.crt'), key: pki.path('client-one.key') });
    expect(await (await manager.get(url)).text()).toBe('client-one');
    expect(() => manager.setClientCertificate(['/nonexistent.crt', '/nonexistent.key'])).toThrow(/^ConnectionManager: tls\.cert: /);
    expect(await (await manager.get(url)).text()).toBe('client-one');
  });
});
