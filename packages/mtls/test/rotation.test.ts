// Certificate rotation: reload() and watch: true, against a real mutual-TLS server, on both
// transports. New connections use the new material; requests in flight finish on theirs.
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { compose, isInvalidOptionsError, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { tls, type TlsReloadEvent } from '@shallot/mtls';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestPki, type TestPki } from './pki.js';

const transports: [string, () => Transport][] = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

let pki: TestPki;
let server: TestServer;
beforeAll(async () => {
  pki = createTestPki();
  server = await createTestServer({
    tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt'), requestCert: true, rejectUnauthorized: true },
  });
  server.route('/whoami', (record, response) => {
    response.end(record.peerCertificate?.subject?.CN ?? 'anonymous');
  });
  server.route('/slow', (record, response) => {
    setTimeout(() => response.end(record.peerCertificate?.subject?.CN ?? 'anonymous'), 150);
  });
});
afterAll(async () => {
  await server.close();
  pki.remove();
});

/** A folder holding `client.crt` and `client.key`, as a deployment would. */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(pki.dir, 'rotation-'));
  install('client-one');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Puts a client identity in place the way rotation tools do: write aside, then rename over. */
function install(name: string, parts: readonly ('crt' | 'key')[] = ['crt', 'key']): void {
  for (const part of parts) {
    copyFileSync(pki.path(`${name}.${part}`), join(dir, `next.${part}`));
    renameSync(join(dir, `next.${part}`), join(dir, `client.${part}`));
  }
}

const files = () => ({ cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), ca: pki.path('ca.crt') });

async function waitFor<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe.each(transports)('over the %s transport', (_name, makeTransport) => {
  it('reload() makes new connections use the new certificate while a request in flight finishes on the old one', async () => {
    const mtls = tls(files());
    await using client = compose().use(mtls).build({ transport: makeTransport() });
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-one');

    const before = server.hits('/slow');
    const inFlight = client.get(`${server.url}/slow`);
    for (let i = 0; i < 200 && server.hits('/slow') === before; i++) await new Promise((r) => setTimeout(r, 5));
    expect(server.hits('/slow')).toBe(before + 1);

    install('client-two');
    expect(mtls.reload()).toEqual(['(default)']);
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-two');

    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await slow.text()).toBe('client-one');
    expect(server.requests('/slow').at(-1)?.aborted).toBe(false);
  });

  it('reload() with unchanged files changes nothing and keeps the pooled connections', async () => {
    await using local = await createTestServer({
      tls: { key: pki.read('server.key'), cert: pki.read('server.crt'), ca: pki.read('ca.crt'), requestCert: true, rejectUnauthorized: true },
    });
    local.route('/same', { body: 'ok' });
    const mtls = tls(files());
    await using client = compose().use(mtls).build({ transport: makeTransport() });
    const send = async (times: number): Promise<void> => {
      for (let i = 0; i < times; i++) await (await client.get(`${local.url}/same`)).text();
    };
    // Warm the pool up (undici may open a second socket while the first is being released).
    await send(3);
    const opened = local.connections().opened;
    expect(mtls.reload()).toEqual([]);
    await send(3);
    expect(local.connections().opened).toBe(opened);

    install('client-two');
    expect(mtls.reload()).toEqual(['(default)']);
    await send(1);
    expect(local.connections().opened).toBeGreaterThan(opened);
  });

  it('a reload that finds a certificate without its new key keeps the previous identity and reports why', async () => {
    const mtls = tls(files());
    const events: TlsReloadEvent[] = [];
    mtls.onReload((event) => events.push(event));
    await using client = compose().use(mtls).build({ transport: makeTransport() });

    install('client-two', ['crt']);
    let thrown: unknown;
    try {
      mtls.reload();
    } catch (error) {
      thrown = error;
    }
    expect(isInvalidOptionsError(thrown)).toBe(true);
    expect((thrown as Error).message).toMatch(/^tls\.key: the key in file ".*client\.key" does not match the certificate in tls\.cert/);
    expect(events).toHaveLength(1);
    expect(events[0]?.error).toBe(thrown);
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-one');

    install('client-two', ['key']);
    expect(mtls.reload()).toEqual(['(default)']);
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-two');
  });

  it('watch: true reports a half-written rotation to the logger and loads it once complete', async () => {
    const warnings: string[] = [];
    const noop = (): void => {};
    const logger = { debug: noop, info: noop, error: noop, warn: (fields: object | string, message?: string) => void warnings.push(typeof fields === 'string' ? fields : (message ?? '')) };
    const mtls = tls({ ...files(), watch: true, watchDebounceMs: 20, logger });
    let wake: ((event: TlsReloadEvent) => void) | undefined;
    mtls.onReload((event) => wake?.(event));
    const nextEvent = () => waitFor(new Promise<TlsReloadEvent>((resolve) => (wake = resolve)), 5_000, 'reload event');
    await using client = compose().use(mtls).build({ transport: makeTransport() });

    let event = nextEvent();
    install('client-two', ['crt']);
    expect((await event).error).toBeDefined();
    expect(warnings.at(-1)).toMatch(/reloading certificates failed/);
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-one');

    event = nextEvent();
    install('client-two', ['key']);
    expect(await event).toMatchObject({ trigger: 'watch', changed: ['(default)'] });
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-two');
  });

  it('watch: true reloads when the files are replaced, and client.close() stops watching', async () => {
    const mtls = tls({ ...files(), watch: true, watchDebounceMs: 20 });
    const events: TlsReloadEvent[] = [];
    let changed: (() => void) | undefined;
    mtls.onReload((event) => {
      events.push(event);
      if (event.changed.length > 0) changed?.();
    });
    const client = compose().use(mtls).build({ transport: makeTransport() });
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-one');

    const reloaded = new Promise<void>((resolve) => (changed = resolve));
    install('client-two');
    await waitFor(reloaded, 5_000, 'reload after the files changed');
    expect(events.at(-1)).toMatchObject({ trigger: 'watch', changed: ['(default)'] });
    expect(await (await client.get(`${server.url}/whoami`)).text()).toBe('client-two');

    await client.close();
    const seen = events.length;
    install('client-one');
    await new Promise((r) => setTimeout(r, 150));
    expect(events.length).toBe(seen);
  });
});
