import { createServer as createNetServer, type Socket } from 'node:net';
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
    await using client = compose().use(timeout({ totalMs: 400 })).build({ transport: make(1) });
    const hung = settle(client.get(`${plain.url}/hang`));
    // Its deadline passes while the hung request still holds the only connection.
    const queued = await settle(client.get(`${plain.url}/x`, { timeoutMs: 60 }));
    expect(isTimeoutError(queued)).toBe(true);
    expect(isTimeoutError(await hung)).toBe(true);
  });
});

/**
 * A server that answers the first request on each connection with keep-alive, then resets the
 * connection when a second request arrives on it: the race a client meets when a server closes
 * an idle keep-alive socket just as the client reuses it.
 */
async function closesReusedSockets(): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const tcp = createNetServer((socket) => {
    sockets.add(socket);
    let served = 0;
    socket.on('error', () => {});
    socket.on('data', (data) => {
      const line = data.toString('latin1').split('\r\n')[0] ?? '';
      requests.push(line);
      served++;
      if (served === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
      else socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        tcp.close(() => resolve());
      }),
  };
}

describe.each(transports.filter(([name]) => name === 'node-fetch'))('%s transport: a server closing kept-alive sockets', (_name, make) => {
  it('a reset on a fresh connection is not sent again', async () => {
    const local = await createTestServer();
    local.route('/reset', { action: 'reset' });
    try {
      await using client = compose().build({ transport: make(1) });
      expect((await settle(client.get(`${local.url}/reset`)) as { code?: string }).code).toBe('ERR_NETWORK');
      expect(local.hits('/reset')).toBe(1);
    } finally {
      await local.close();
    }
  });

  it('an idempotent request that meets a dead kept-alive socket is sent once more on a fresh one', async () => {
    const upstream = await closesReusedSockets();
    try {
      await using client = compose().build({ transport: make(1) });
      for (let i = 0; i < 5; i++) expect(await (await client.get(`${upstream.url}/x`)).text()).toBe('ok');
      expect(upstream.requests.filter((line) => line.startsWith('GET'))).toHaveLength(9);
    } finally {
      await upstream.close();
    }
  });

  it('a POST without an Idempotency-Key is not sent twice', async () => {
    const upstream = await closesReusedSockets();
    try {
      await using client = compose().build({ transport: make(1) });
      expect(await (await client.post(`${upstream.url}/x`, { body: 'a' })).text()).toBe('ok');
      const second = await settle(client.post(`${upstream.url}/x`, { body: 'b' }));
      expect((second as { code?: string }).code).toBe('ERR_NETWORK');
      expect(upstream.requests.filter((line) => line.startsWith('POST'))).toHaveLength(2);
    } finally {
      await upstream.close();
    }
  });
});
