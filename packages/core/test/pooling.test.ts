import { compose, isTimeoutError, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { createTestServer, settle, type TestServer, testCertificates } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let plain: TestServer;
let secure: TestServer;
beforeAll(async () => {
  const { cert, key } = testCertificates();
  plain = await createTestServer();
  secure = await createTestServer({ tls: { cert, key } });
  for (const server of [plain, secure]) {
    server.route('/x', { json: { ok: true } });
    server.route('/slow', { delayMs: 30, json: { ok: true } });
    server.route('/hang', { action: 'hang' });
  }
});
afterAll(async () => {
  await plain.close();
  await secure.close();
});

const transports: Array<[string, (maxSockets?: number) => Transport]> = [
  ['undici', (maxSockets) => undiciTransport(maxSockets === undefined ? {} : { maxSockets })],
  ['node-fetch', (maxSockets) => nodeFetchTransport(maxSockets === undefined ? {} : { maxSockets })],
];

describe.each(transports)('%s transport: connection reuse', (_name, make) => {
  it('sends sequential HTTPS requests over one TLS connection', async () => {
    const { ca } = testCertificates();
    const before = secure.connections().opened;
    await using client = compose().build({ transport: make() });
    for (let i = 0; i < 5; i++) await (await client.get(`${secure.url}/x`, { tls: { ca } })).json();
    expect(secure.connections().opened - before).toBe(1);
  });

  it('sends sequential plain requests over one connection', async () => {
    const before = plain.connections().opened;
    await using client = compose().build({ transport: make() });
    for (let i = 0; i < 5; i++) await (await client.get(`${plain.url}/x`)).json();
    expect(plain.connections().opened - before).toBe(1);
  });

  it('opens at most maxSockets connections, and every queued request is served', async () => {
    const before = plain.connections().opened;
    await using client = compose().build({ transport: make(3) });
    const bodies = await Promise.all(Array.from({ length: 20 }, async () => (await client.get(`${plain.url}/slow`)).json()));
    expect(bodies).toHaveLength(20);
    expect(plain.connections().opened - before).toBeLessThanOrEqual(3);
  });

  it('a deadline reaches a request still waiting for a free connection', async () => {
    await using client = compose().use(timeout({ totalMs: 80 })).build({ transport: make(1) });
    const hung = settle(client.get(`${plain.url}/hang`));
    const queued = await settle(client.get(`${plain.url}/x`));
    expect(isTimeoutError(queued)).toBe(true);
    expect(isTimeoutError(await hung)).toBe(true);
  });
});
