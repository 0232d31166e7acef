import { addCredentialHeader, addRedirectHook, compose, defineMiddleware, nodeFetchTransport, type Transport, undiciTransport } from '@shallot/core';
import { createTestServer, type TestServer, testCertificates } from '@shallot/testing';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let origin: TestServer;
let other: TestServer;
let secure: TestServer;
const echo = (server: () => TestServer) => (request: { method: string; headers: Record<string, unknown> }, response: ServerResponse) => {
  response.setHeader('content-type', 'application/json');
  response.end(JSON.stringify({ method: request.method, headers: request.headers, port: server().port }));
};

beforeAll(async () => {
  origin = await createTestServer();
  other = await createTestServer();
  const { cert, key } = testCertificates();
  secure = await createTestServer({ tls: { cert, key } });
  origin.route('/echo', echo(() => origin));
  other.route('/echo', echo(() => other));
  origin.route('/to-other', (_request, response) => {
    response.writeHead(302, { location: `${other.url}/echo`, 'set-cookie': 'hop=1' });
    response.end();
  });
  origin.route('/to-self', { status: 302, headers: { location: '/echo' } });
  origin.route('/to-creds', (_request, response) => {
    response.writeHead(302, { location: `http://carol:hunter2@127.0.0.1:${other.port}/echo` });
    response.end();
  });
  secure.route('/downgrade', (_request, response) => {
    response.writeHead(302, { location: `${other.url}/echo` });
    response.end();
  });
});
afterAll(async () => {
  await origin.close();
  await other.close();
  await secure.close();
});

const transports: Array<[string, () => Transport]> = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
];

const credentialed = {
  authorization: 'Bearer tok',
  cookie: 'sid=ALICE',
  'proxy-authorization': 'Basic cHJveHk=',
  'x-api-key': 'KEY-1',
  'api-key': 'KEY-2',
  'x-auth-token': 'KEY-3',
  'x-access-token': 'KEY-4',
  'x-access-key': 'KEY-5',
  'x-functions-key': 'KEY-6',
  'ocp-apim-subscription-key': 'KEY-7',
  'x-keep': 'yes',
};

describe.each(transports)('%s transport: redirects', (_name, make) => {
  it('drops every credential header and Host when a redirect leaves the origin', async () => {
    await using client = compose().build({ transport: make() });
    const response = await client.get(`${origin.url}/to-other`, { headers: { ...credentialed, host: `127.0.0.1:${origin.port}` } });
    const body = (await response.json()) as { headers: Record<string, string>; port: number };
    expect(body.port).toBe(other.port);
    for (const name of Object.keys(credentialed).filter((n) => n !== 'x-keep')) expect(body.headers[name], name).toBeUndefined();
    expect(body.headers['x-keep']).toBe('yes');
    // The Host a caller set for the first origin never reaches the second.
    expect(body.headers.host).toBe(`127.0.0.1:${other.port}`);
  });

  it('keeps credentials on a same-origin redirect', async () => {
    await using client = compose().build({ transport: make() });
    const body = (await (await client.get(`${origin.url}/to-self`, { headers: credentialed })).json()) as { headers: Record<string, string> };
    expect(body.headers['x-api-key']).toBe('KEY-1');
    expect(body.headers.authorization).toBe('Bearer tok');
  });

  it('drops the headers of the client option credentialHeaders and those an auth layer registered', async () => {
    const registers = defineMiddleware(async function registers(ctx, next) {
      ctx.request.headers.set('x-partner-secret', 'P');
      addCredentialHeader(ctx, 'X-Partner-Secret');
      return next();
    });
    await using client = compose().use(registers).build({ transport: make(), credentialHeaders: ['X-Tenant-Key'] });
    const body = (await (await client.get(`${origin.url}/to-other`, { headers: { 'x-tenant-key': 'T' } })).json()) as { headers: Record<string, string> };
    expect(body.headers['x-tenant-key']).toBeUndefined();
    expect(body.headers['x-partner-secret']).toBeUndefined();
  });

  it('refuses a redirect from https to http unless allowInsecureRedirect', async () => {
    const { ca } = testCertificates();
    await using client = compose().build({ transport: make() });
    const before = other.hits('/echo');
    await expect(client.get(`${secure.url}/downgrade`, { tls: { ca }, headers: { 'x-api-key': 'K' } })).rejects.toMatchObject({
      code: 'ERR_NETWORK',
      message: expect.stringContaining('from https to http'),
    });
    expect(other.hits('/echo')).toBe(before);
    const allowed = await client.get(`${secure.url}/downgrade`, { tls: { ca }, allowInsecureRedirect: true, headers: { 'x-api-key': 'K' } });
    const body = (await allowed.json()) as { headers: Record<string, string> };
    expect(body.headers['x-api-key']).toBeUndefined();
    await using permissive = compose().build({ transport: make(), allowInsecureRedirect: true });
    expect((await permissive.get(`${secure.url}/downgrade`, { tls: { ca } })).status).toBe(200);
  });

  it('runs redirect hooks with the hop response headers, and lets them set the next hop headers', async () => {
    const seen: string[] = [];
    const jar = defineMiddleware(async function jar(ctx, next) {
      addRedirectHook(ctx, (_ctx, { status, from, responseHeaders, to }) => {
        seen.push(`${status} ${from.port} -> ${to.url.port} ${responseHeaders.get('set-cookie')}`);
        to.headers.set('x-from-hook', 'yes');
      });
      return next();
    });
    await using client = compose().use(jar).build({ transport: make() });
    const body = (await (await client.get(`${origin.url}/to-other`)).json()) as { headers: Record<string, string> };
    expect(seen).toEqual([`302 ${origin.port} -> ${other.port} hop=1`]);
    expect(body.headers['x-from-hook']).toBe('yes');
  });

  it('turns URL credentials into Basic auth and never shows them in response.url', async () => {
    await using client = compose().build({ transport: make() });
    const url = new URL(`${origin.url}/echo`);
    url.username = 'alice';
    url.password = 's3cr3t';
    const response = await client.get(url);
    const body = (await response.json()) as { headers: Record<string, string> };
    expect(body.headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cr3t').toString('base64')}`);
    expect(response.url).not.toContain('s3cr3t');
    const redirected = await client.get(`${origin.url}/to-creds`);
    expect(redirected.url).toBe(`http://127.0.0.1:${other.port}/echo`);
    expect(redirected.url).not.toContain('hunter2');
    await redirected.arrayBuffer();
  });
});
