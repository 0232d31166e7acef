import { compose, isInvalidOptionsError, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { CookieJar, cookies } from '@shallot/cookies';
import { createTestServer, type TestServer } from '@shallot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let a: TestServer;
let b: TestServer;
const seen = (server: TestServer, path: string): Array<string | undefined> => server.requests(path).map((r) => r.headers.cookie as string | undefined);

beforeAll(async () => {
  a = await createTestServer();
  b = await createTestServer();
  a.route('/login', { headers: { 'set-cookie': ['session=S1; Path=/; HttpOnly', 'theme=dark; Path=/prefs'] } });
  a.route('/me', { json: { ok: true } });
  a.route('/prefs/x', { json: { ok: true } });
  a.route('/secure-set', { headers: { 'set-cookie': 'locked=1; Secure; Path=/' } });
  a.route('/start', (_request, response) => {
    response.writeHead(302, { location: '/next', 'set-cookie': 'hop1=yes; Path=/' });
    response.end();
  });
  a.route('/next', (_request, response) => {
    // Cross-origin, to another host name on loopback.
    response.writeHead(302, { location: `http://localhost:${b.port}/there`, 'set-cookie': 'hop2=yes; Path=/' });
    response.end();
  });
  b.route('/there', (_request, response) => {
    response.writeHead(302, { location: `http://127.0.0.1:${a.port}/back`, 'set-cookie': 'fromB=1; Path=/' });
    response.end();
  });
  a.route('/back', { json: { back: true } });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

const transports: Array<[string, () => Transport]> = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

describe.each(transports)('cookies() on the %s transport', (_name, make) => {
  it('stores Set-Cookie and sends the cookies that apply: path, host-only', async () => {
    a.reset();
    await using client = compose().use(cookies()).build({ transport: make() });
    await (await client.get(`${a.url}/login`)).arrayBuffer();
    await (await client.get(`${a.url}/me`)).arrayBuffer();
    await (await client.get(`${a.url}/prefs/x`)).arrayBuffer();
    expect(seen(a, '/me')).toEqual(['session=S1']);
    expect(seen(a, '/prefs/x')[0]?.split('; ').sort()).toEqual(['session=S1', 'theme=dark']);
    // A cookie without Domain stays on its host: localhost is another host than 127.0.0.1.
    await (await client.get(`http://localhost:${a.port}/me`)).arrayBuffer();
    expect(seen(a, '/me')[1]).toBeUndefined();
  });

  it('stores the Set-Cookie of every redirect hop and sends each hop only its own origin\'s cookies', async () => {
    a.reset();
    b.reset();
    const jar = new CookieJar();
    await using client = compose().use(cookies({ jar })).build({ transport: make() });
    const response = await client.get(`${a.url}/start`);
    expect(await response.json()).toEqual({ back: true });
    expect(seen(a, '/next')).toEqual(['hop1=yes']);
    // The other host gets none of 127.0.0.1's cookies.
    expect(seen(b, '/there')).toEqual([undefined]);
    expect(seen(a, '/back')[0]?.split('; ').sort()).toEqual(['hop1=yes', 'hop2=yes']);
    expect((await jar.getCookies(`http://localhost:${b.port}/`)).map((c) => c.key)).toEqual(['fromB']);
  });

  it('never sends a Secure cookie over plain http (loopback counts as secure unless the jar says otherwise)', async () => {
    a.reset();
    const jar = new CookieJar(undefined, { allowSecureOnLocal: false });
    await jar.setCookie('locked=1; Secure; Path=/', `https://127.0.0.1:${a.port}/`);
    await using client = compose().use(cookies({ jar })).build({ transport: make() });
    await (await client.get(`${a.url}/me`)).arrayBuffer();
    expect(seen(a, '/me')).toEqual([undefined]);
  });

  it("keeps the caller's Cookie header and adds the jar's other cookies after it", async () => {
    a.reset();
    const jar = new CookieJar();
    await jar.setCookie('session=FROM_JAR; Path=/', `${a.url}/`);
    await jar.setCookie('extra=1; Path=/', `${a.url}/`);
    await using client = compose().use(cookies({ jar })).build({ transport: make() });
    await (await client.get(`${a.url}/me`, { headers: { cookie: 'session=MINE' } })).arrayBuffer();
    expect(seen(a, '/me')).toEqual(['session=MINE; extra=1']);
    await using strict = compose().use(cookies({ jar, mergeWithCallerCookies: false })).build({ transport: make() });
    await (await strict.get(`${a.url}/me`, { headers: { cookie: 'session=MINE' } })).arrayBuffer();
    expect(seen(a, '/me')[1]).toBe('session=MINE');
  });
});

describe('cookies() options', () => {
  it('refuses a jar that is not a CookieJar, naming the option', () => {
    expect(() => cookies({ jar: {} as never })).toThrow(/^cookies\.jar: expected a tough-cookie CookieJar/);
    try {
      cookies({ jar: new Map() as never });
    } catch (error) {
      expect(isInvalidOptionsError(error)).toBe(true);
    }
    expect(() => cookies({ store: 1 } as never)).toThrow(/unknown option 'store'/);
  });
});
