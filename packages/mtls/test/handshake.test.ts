// Real TLS against a node:https test server with requestCert and rejectUnauthorized on: client
// certificates, server verification, pins, versions and ciphers, on both core transports.
import type { TLSSocket } from 'node:tls';
import { compose, defineMiddleware, isNetworkError, type Logger, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { isTlsPinningError, spkiPin, tls, type TlsPinningError } from '@shallot/mtls';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, passphrase, type TestPki } from './pki.js';

const transports: [string, () => Transport][] = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

interface Whoami {
  cn: string | undefined;
  protocol: string | null;
  cipher: string;
}

/** A route that answers with what the TLS session looked like from the server's side. */
function whoami(server: TestServer, path: string): void {
  server.route(path, (record, response, raw) => {
    const socket = raw.socket as TLSSocket;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ cn: record.peerCertificate?.subject?.CN, protocol: socket.getProtocol(), cipher: socket.getCipher().name }));
  });
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const noop = (): void => {};
  return {
    warnings,
    debug: noop,
    info: noop,
    error: noop,
    warn: (fields: object | string, message?: string) => void warnings.push(typeof fields === 'string' ? fields : (message ?? '')),
  };
}

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.remove());

describe.each(transports)('over the %s transport', (_name, makeTransport) => {
  let mtlsServer: TestServer;
  beforeAll(async () => {
    mtlsServer = await createTestServer({
      tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt'), requestCert: true, rejectUnauthorized: true },
    });
    mtlsServer.route('*', { json: { ok: true } });
    whoami(mtlsServer, '/whoami');
  });
  afterAll(() => mtlsServer.close());

  const clientOne = () => ({ cert: pki.path('client-one.crt'), key: pki.path('client-one.key'), ca: pki.path('ca.crt') });

  describe('mutual TLS', () => {
    it('fails without a client certificate, and the server records no request', async () => {
      await using client = compose().use(tls({ ca: pki.path('ca.crt') })).build({ transport: makeTransport() });
      const error = await client.get(`${mtlsServer.url}/no-client-cert`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(mtlsServer.hits('/no-client-cert')).toBe(0);
    });

    it('succeeds with the client certificate, and the server sees its subject', async () => {
      await using client = compose().use(tls(clientOne())).build({ transport: makeTransport() });
      const response = await client.get(`${mtlsServer.url}/whoami`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as Whoami).cn).toBe('client-one');
    });

    it('takes PEM text and bytes as well as file paths', async () => {
      const material = tls({ cert: pki.read('client-two.crt').toString(), key: pki.read('client-two.key'), ca: [pki.read('ca.crt')] });
      await using client = compose().use(material).build({ transport: makeTransport() });
      expect(((await (await client.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).cn).toBe('client-two');
    });

    it('opens a passphrase-protected key', async () => {
      const locked = tls({ cert: pki.path('client-locked.crt'), key: pki.path('client-locked.key'), passphrase, ca: pki.path('ca.crt') });
      await using client = compose().use(locked).build({ transport: makeTransport() });
      expect(((await (await client.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).cn).toBe('client-locked');
    });

    it('presents the identity in a PKCS#12 bundle', async () => {
      const bundle = tls({ pfx: pki.path('client-one.p12'), passphrase, ca: pki.path('ca.crt') });
      await using client = compose().use(bundle).build({ transport: makeTransport() });
      expect(((await (await client.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).cn).toBe('client-one');
    });

    it('re-uses one pooled connection for the requests of one configuration', async () => {
      await using server = await createTestServer({ tls: { key: pki.read('server.key'), cert: pki.read('server.crt') } });
      server.route('/pooled', { json: { ok: true } });
      await using client = compose().use(tls({ ca: pki.path('ca.crt') })).build({ transport: makeTransport() });
      for (let i = 0; i < 6; i++) await (await client.get(`${server.url}/pooled`)).arrayBuffer();
      expect(server.hits('/pooled')).toBe(6);
      // undici may open a second socket while the first is being released; never one per request.
      expect(server.connections().opened).toBeLessThanOrEqual(2);
    });
  });

  describe('server verification', () => {
    it('rejects a server certificate from a CA it was not given (the system roots alone)', async () => {
      await using client = compose().use(tls({ cert: pki.path('client-one.crt'), key: pki.path('client-one.key') })).build({ transport: makeTransport() });
      const error = await client.get(`${mtlsServer.url}/untrusted`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(mtlsServer.hits('/untrusted')).toBe(0);
    });

    it('rejects a server whose certificate comes from another CA than the one given (caMode replace)', async () => {
      await using rogue = await createTestServer({ tls: { key: pki.read('rogue.key'), cert: pki.read('rogue.crt') } });
      rogue.route('/rogue', { json: { ok: true } });
      await using client = compose().use(tls({ ca: pki.path('ca.crt') })).build({ transport: makeTransport() });
      const error = await client.get(`${rogue.url}/rogue`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(rogue.hits('/rogue')).toBe(0);
    });

    it("caMode 'append' trusts the given CA together with Node's bundled roots", async () => {
      await using client = compose().use(tls({ ...clientOne(), caMode: 'append' })).build({ transport: makeTransport() });
      const { response, context } = await client.exchange('GET', `${mtlsServer.url}/append`);
      expect(response.status).toBe(200);
      const { rootCertificates } = await import('node:tls');
      expect((context.tls?.ca as unknown[]).length).toBe(rootCertificates.length + 1);
    });

    it('checks the host name against the certificate, and servername changes the name checked', async () => {
      await using api = await createTestServer({ tls: { key: pki.read('api.key'), cert: pki.read('api.crt') } });
      api.route('/api', { json: { ok: true } });
      await using strict = compose().use(tls({ ca: pki.path('ca.crt') })).build({ transport: makeTransport() });
      const error = await strict.get(`${api.url}/api`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(api.hits('/api')).toBe(0);
      await using named = compose().use(tls({ ca: pki.path('ca.crt'), servername: 'api.test' })).build({ transport: makeTransport() });
      expect((await named.get(`${api.url}/api`)).status).toBe(200);
      expect(api.hits('/api')).toBe(1);
    });

    it('rejectUnauthorized: false accepts an unverifiable server and logs a warning once', async () => {
      await using rogue = await createTestServer({ tls: { key: pki.read('rogue.key'), cert: pki.read('rogue.crt') } });
      rogue.route('/insecure', { json: { ok: true } });
      const logger = recordingLogger();
      await using client = compose().use(tls({ rejectUnauthorized: false })).build({ transport: makeTransport(), logger });
      expect((await client.get(`${rogue.url}/insecure`)).status).toBe(200);
      expect((await client.get(`${rogue.url}/insecure`)).status).toBe(200);
      expect(rogue.hits('/insecure')).toBe(2);
      expect(logger.warnings).toHaveLength(1);
      expect(logger.warnings[0]).toMatch(/rejectUnauthorized is false/);
    });
  });

  it('a redirect to another host presents that host’s client certificate, not the first host’s', async () => {
    await using second = await createTestServer({
      tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt'), requestCert: true, rejectUnauthorized: true },
    });
    whoami(second, '/whoami');
    mtlsServer.route('/elsewhere', (_record, response) => {
      response.writeHead(302, { location: `https://localhost:${second.port}/whoami` });
      response.end();
    });
    const layer = tls({
      ...clientOne(),
      endpoints: { localhost: { cert: pki.path('client-two.crt'), key: pki.path('client-two.key') } },
    });
    await using client = compose().use(layer).build({ transport: makeTransport() });
    const response = await client.get(`${mtlsServer.url}/elsewhere`);
    expect(response.redirected).toBe(true);
    expect(((await response.json()) as { cn: string }).cn).toBe('client-two');
  });

  describe('pinning', () => {
    it('pins a server whose chain is not trusted (rejectUnauthorized: false): the right pin succeeds, a wrong one writes nothing', async () => {
      await using rogue = await createTestServer({ tls: { key: pki.read('rogue.key'), cert: pki.read('rogue.crt') } });
      rogue.route('/self-signed', { json: { ok: true } });
      const right = tls({ rejectUnauthorized: false, pins: [spkiPin(pki.read('rogue.crt'))] });
      await using trusted = compose().use(right).build({ transport: makeTransport(), logger: recordingLogger() });
      expect((await trusted.get(`${rogue.url}/self-signed`)).status).toBe(200);
      expect(rogue.hits('/self-signed')).toBe(1);

      const wrongPin = spkiPin(pki.read('ca.crt'));
      const wrong = tls({ rejectUnauthorized: false, pins: [wrongPin] });
      await using refused = compose().use(wrong).build({ transport: makeTransport(), logger: recordingLogger() });
      for (let i = 0; i < 2; i++) {
        const error = (await refused.get(`${rogue.url}/self-signed`).catch((e: unknown) => e)) as TlsPinningError;
        expect(isTlsPinningError(error)).toBe(true);
        expect(error.expected).toEqual([wrongPin]);
        expect(error.seen[0]).toBe(spkiPin(pki.read('rogue.crt')));
      }
      expect(rogue.hits('/self-signed')).toBe(1);
    });

    it('accepts the pin of the leaf, of the intermediate and of the root it chains to', async () => {
      for (const file of ['server-leaf.crt', 'int.crt', 'ca.crt']) {
        await using client = compose().use(tls({ ...clientOne(), pins: [spkiPin(pki.read(file))] })).build({ transport: makeTransport() });
        expect((await client.get(`${mtlsServer.url}/pinned`)).status).toBe(200);
      }
      expect(mtlsServer.hits('/pinned')).toBe(3);
    });

    it('accepts when a backup pin matches', async () => {
      const pins = [spkiPin(pki.read('other-ca.crt')), spkiPin(pki.read('server-leaf.crt'))];
      await using client = compose().use(tls({ ...clientOne(), pins })).build({ transport: makeTransport() });
      expect((await client.get(`${mtlsServer.url}/backup-pin`)).status).toBe(200);
    });

    it('fails a wrong pin with ERR_TLS_PIN before the request is written', async () => {
      const wrong = spkiPin(pki.read('other-ca.crt'));
      await using client = compose().use(tls({ ...clientOne(), pins: [wrong] })).build({ transport: makeTransport() });
      const url = `${mtlsServer.url}/wrong-pin`;
      const error = (await client.get(url).catch((e: unknown) => e)) as TlsPinningError;
      expect(isTlsPinningError(error)).toBe(true);
      expect(error.code).toBe('ERR_TLS_PIN');
      expect(isNetworkError(error)).toBe(false);
      expect(error.host).toBe('127.0.0.1');
      expect(error.expected).toEqual([wrong]);
      expect(error.seen).toEqual([spkiPin(pki.read('server-leaf.crt')), spkiPin(pki.read('int.crt')), spkiPin(pki.read('ca.crt'))]);
      expect(error.message).toContain(`GET ${url}`);
      expect(mtlsServer.hits('/wrong-pin')).toBe(0);
    });

    it('reaches outer layers as ERR_TLS_PIN, so a policy that retries network errors does not retry it', async () => {
      const seen: string[] = [];
      const retryNetworkErrors = defineMiddleware(async function retryNetworkErrors(_ctx, next) {
        for (let attempt = 1; ; attempt++) {
          try {
            return await next();
          } catch (error) {
            seen.push((error as { code: string }).code);
            if (!isNetworkError(error) || attempt === 3) throw error;
          }
        }
      });
      const pinned = tls({ ...clientOne(), pins: [spkiPin(pki.read('rogue.crt'))] });
      await using client = compose().use(retryNetworkErrors).use(pinned).build({ transport: makeTransport() });
      const error = await client.get(`${mtlsServer.url}/not-retried`).catch((e: unknown) => e);
      expect(isTlsPinningError(error)).toBe(true);
      expect(seen).toEqual(['ERR_TLS_PIN']);
      expect(mtlsServer.hits('/not-retried')).toBe(0);
    });

    it('fails every connection with a wrong pin, TLS 1.2 session resumption included', async () => {
      await using server = await createTestServer({ tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), maxVersion: 'TLSv1.2' } });
      server.route('/again', { json: { ok: true } });
      await using client = compose().use(tls({ ca: pki.path('ca.crt'), pins: [spkiPin(pki.read('rogue.crt'))] })).build({ transport: makeTransport() });
      for (let i = 0; i < 3; i++) {
        const error = await client.get(`${server.url}/again`).catch((e: unknown) => e);
        expect(isTlsPinningError(error)).toBe(true);
      }
      expect(server.hits('/again')).toBe(0);
    });

    it('keeps checking the host name when pins match', async () => {
      await using api = await createTestServer({ tls: { key: pki.read('api.key'), cert: pki.read('api.crt') } });
      api.route('/api', { json: { ok: true } });
      await using client = compose().use(tls({ ca: pki.path('ca.crt'), pins: [spkiPin(pki.read('api-leaf.crt'))] })).build({ transport: makeTransport() });
      const error = await client.get(`${api.url}/api`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(String((error as Error).message)).toMatch(/api\.test|altnames|ERR_TLS_CERT_ALTNAME_INVALID/i);
      expect(api.hits('/api')).toBe(0);
    });
  });

  describe('protocol versions and ciphers', () => {
    it('negotiates TLS 1.3 by default and TLS 1.2 with maxVersion TLSv1.2', async () => {
      await using modern = compose().use(tls(clientOne())).build({ transport: makeTransport() });
      expect(((await (await modern.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).protocol).toBe('TLSv1.3');
      await using capped = compose().use(tls({ ...clientOne(), maxVersion: 'TLSv1.2' })).build({ transport: makeTransport() });
      expect(((await (await capped.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).protocol).toBe('TLSv1.2');
    });

    it('uses the cipher list given', async () => {
      const ciphers = 'ECDHE-ECDSA-CHACHA20-POLY1305';
      await using client = compose().use(tls({ ...clientOne(), maxVersion: 'TLSv1.2', ciphers })).build({ transport: makeTransport() });
      expect(((await (await client.get(`${mtlsServer.url}/whoami`)).json()) as Whoami).cipher).toBe(ciphers);
    });

    it('fails against a server below minVersion', async () => {
      await using old = await createTestServer({ tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), maxVersion: 'TLSv1.2' } });
      old.route('/old', { json: { ok: true } });
      await using client = compose().use(tls({ ca: pki.path('ca.crt'), minVersion: 'TLSv1.3' })).build({ transport: makeTransport() });
      const error = await client.get(`${old.url}/old`).catch((e: unknown) => e);
      expect(isNetworkError(error)).toBe(true);
      expect(old.hits('/old')).toBe(0);
    });
  });

  describe('endpoints', () => {
    it('applies the most specific endpoint settings and the top-level ones elsewhere', async () => {
      const port = mtlsServer.port;
      const middleware = tls({
        ...clientOne(),
        endpoints: {
          [`127.0.0.1:${port}`]: { cert: pki.path('client-two.crt'), key: pki.path('client-two.key') },
          '127.0.0.1': { cert: pki.path('client-locked.crt'), key: pki.path('client-locked.key'), passphrase },
        },
      });
      await using client = compose().use(middleware).build({ transport: makeTransport() });
      const byIp = (await (await client.get(`https://127.0.0.1:${port}/whoami`)).json()) as Whoami;
      const byName = (await (await client.get(`https://localhost:${port}/whoami`)).json()) as Whoami;
      expect(byIp.cn).toBe('client-two');
      expect(byName.cn).toBe('client-one');
    });
  });
});
