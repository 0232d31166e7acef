import { Readable } from 'node:stream';
import { auth, AuthTokenError, isAuthTokenError } from '@shallot/auth';
import { compose, defineMiddleware, isInvalidOptionsError, nodeFetchTransport, requestCredentials, undiciTransport } from '@shallot/core';
import { createTestServer, type TestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

const transports = [
  ['undici', () => undiciTransport()],
  ['node-fetch', () => nodeFetchTransport()],
] as const;

/** A route that answers with the request headers it got. */
function echo(server: TestServer, path = '/echo'): void {
  server.route(path, (req, res) => void res.end(JSON.stringify(req.headers)));
}

const headersOf = async (response: Response) => (await response.json()) as Record<string, string | undefined>;
const hostOf = (server: TestServer) => new URL(server.url).host;
const caught = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe.each(transports)('auth over %s', (_name, transport) => {
  it('sends an API key (default header X-API-Key, or a custom one), bearer, OAuth2 and basic', async () => {
    await using server = await createTestServer();
    echo(server);
    const url = `${server.url}/echo`;
    const send = async (options: Parameters<typeof auth>[0]) => {
      await using client = compose().use(auth(options)).build({ transport: transport() });
      return headersOf(await client.get(url));
    };
    expect((await send({ apiKey: 'k1' }))['x-api-key']).toBe('k1');
    const custom = await send({ apiKey: 'k2', apiKeyHeader: 'X-Partner-Key' });
    expect([custom['x-partner-key'], custom['x-api-key']]).toEqual(['k2', undefined]);
    expect((await send({ bearer: 't1' })).authorization).toBe('Bearer t1');
    expect((await send({ oauth2: async () => 'o1' })).authorization).toBe('Bearer o1');
    expect((await send({ basic: { username: 'ann', password: 'pä:ss' } })).authorization).toBe(`Basic ${Buffer.from('ann:pä:ss').toString('base64')}`);
    const both = await send({ apiKey: 'k3', bearer: 't3' });
    expect([both['x-api-key'], both.authorization]).toEqual(['k3', 'Bearer t3']);
  });

  it('a header the caller set always wins, and the caller headers object is never changed', async () => {
    await using server = await createTestServer();
    echo(server);
    await using client = compose().use(auth({ bearer: 'ours', apiKey: 'our-key' })).build({ transport: transport() });
    const callerHeaders = new Headers({ Authorization: 'Bearer theirs' });
    const seen = await headersOf(await client.get(`${server.url}/echo`, { headers: callerHeaders }));
    expect(seen.authorization).toBe('Bearer theirs');
    expect(seen['x-api-key']).toBe('our-key');
    expect([...callerHeaders]).toEqual([['authorization', 'Bearer theirs']]);
    const record = { accept: 'text/plain' };
    await client.get(`${server.url}/echo`, { headers: record });
    expect(record).toEqual({ accept: 'text/plain' });
  });

  it('the most specific endpoint pattern replaces the global credentials; a query string never matches', async () => {
    await using a = await createTestServer();
    await using b = await createTestServer();
    echo(a);
    echo(b);
    const layer = auth({
      bearer: 'global-token',
      endpoints: {
        '127.0.0.1': { apiKey: 'host-key' },
        [hostOf(b)]: { apiKey: 'b-key', apiKeyHeader: 'X-B-Key' },
        [`${b.url}/echo/admin`]: { basic: { username: 'admin', password: 'pw' } },
      },
    });
    await using client = compose().use(layer).build({ transport: transport() });
    const onA = await headersOf(await client.get(`${a.url}/echo?next=${hostOf(b)}`));
    expect([onA['x-api-key'], onA['x-b-key'], onA.authorization]).toEqual(['host-key', undefined, undefined]);
    const onB = await headersOf(await client.get(`${b.url}/echo`));
    expect([onB['x-api-key'], onB['x-b-key'], onB.authorization]).toEqual([undefined, 'b-key', undefined]);
    b.route('/echo/admin/users', (req, res) => void res.end(JSON.stringify(req.headers)));
    const admin = await headersOf(await client.get(`${b.url}/echo/admin/users`));
    expect([admin['x-b-key'], admin.authorization]).toEqual([undefined, `Basic ${Buffer.from('admin:pw').toString('base64')}`]);
    layer.clearAuth('127.0.0.1');
    const global = await headersOf(await client.get(`${a.url}/echo`));
    expect([global['x-api-key'], global.authorization]).toEqual([undefined, 'Bearer global-token']);
  });

  it('registers the headers it sets as credentials: a redirect leaving the origin drops a custom API-key header', async () => {
    await using a = await createTestServer();
    await using b = await createTestServer();
    echo(b, '/landing');
    a.route('/start', { status: 302, headers: { location: `${b.url}/landing` } });
    const credentials: string[][] = [];
    const inspect = defineMiddleware(async function inspect(ctx, next) {
      const response = await next();
      credentials.push(requestCredentials(ctx).map(([name]) => name));
      return response;
    });
    await using client = compose().use(auth({ apiKey: 'partner-secret', apiKeyHeader: 'X-Partner-Key' })).use(inspect).build({ transport: transport() });
    const landed = await headersOf(await client.get(`${a.url}/start`));
    expect(a.requests('/start')[0]?.headers['x-partner-key']).toBe('partner-secret');
    expect(landed['x-partner-key']).toBeUndefined();
    expect(credentials).toEqual([['x-partner-key']]);
  });

  it('100 concurrent 401s: the token getter is called once to refresh, and every refused request is replayed once', async () => {
    await using server = await createTestServer();
    let current = 'token-1';
    server.route('/data', (req, res) => {
      res.statusCode = req.headers.authorization === `Bearer ${current}` ? 200 : 401;
      res.end(res.statusCode === 200 ? 'ok' : 'expired');
    });
    let calls = 0;
    const getter = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `token-${calls}`;
    };
    await using client = compose().use(auth({ bearer: getter })).build({ transport: transport() });
    expect(await (await client.get(`${server.url}/data`)).text()).toBe('ok');
    expect(calls).toBe(1);
    current = 'token-2';
    const { responses, contexts } = await Promise.all(Array.from({ length: 100 }, () => client.exchange('GET', `${server.url}/data`))).then((all) => ({
      responses: all.map((x) => x.response),
      contexts: all.map((x) => x.context),
    }));
    expect(await Promise.all(responses.map((r) => r.text()))).toEqual(Array(100).fill('ok'));
    expect(calls).toBe(2);
    expect(server.hits('/data')).toBe(1 + 100 + 100);
    expect(contexts.every((c) => c.auth.refreshed && c.auth.scope === 'global')).toBe(true);
  });
});

describe('auth: refresh rules', () => {
  it('a static token, or a stream body, is never replayed after a 401', async () => {
    await using server = await createTestServer();
    server.route('/data', { status: 401, body: 'no' });
    await using fixed = compose().use(auth({ bearer: 'static' })).build();
    expect((await fixed.get(`${server.url}/data`)).status).toBe(401);
    expect(server.hits('/data')).toBe(1);
    let calls = 0;
    await using refreshing = compose()
      .use(
        auth({
          bearer: () => {
            calls++;
            return `t${calls}`;
          },
        }),
      )
      .build();
    expect((await refreshing.post(`${server.url}/data`, { body: Readable.from(['a']) })).status).toBe(401);
    expect([server.hits('/data'), calls]).toEqual([2, 1]);
    // A replayable body is replayed once with the fresh token, then the 401 stands.
    expect((await refreshing.post(`${server.url}/data`, { body: 'a' })).status).toBe(401);
    expect([server.hits('/data'), calls]).toEqual([4, 2]);
    expect(server.requests('/data').map((r) => r.headers.authorization)).toEqual(['Bearer static', 'Bearer t1', 'Bearer t1', 'Bearer t2']);
  });

  it('a getter that fails, or returns no token, fails the request with AuthTokenError (cause kept)', async () => {
    await using server = await createTestServer();
    server.route('/data', { body: 'ok' });
    const cause = new Error('vault down');
    await using failing = compose()
      .use(
        auth({
          oauth2: async () => {
            throw cause;
          },
        }),
      )
      .build();
    const error = await failing.get(`${server.url}/data`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthTokenError);
    expect(isAuthTokenError(error)).toBe(true);
    expect((error as AuthTokenError).cause).toBe(cause);
    expect((error as AuthTokenError).message).toBe(`GET ${server.url}/data: the oauth2 token getter threw`);
    await using empty = compose().use(auth({ apiKey: () => '' })).build();
    await expect(empty.get(`${server.url}/data`)).rejects.toThrow('the apiKey token getter returned an empty string instead of a token');
    expect(server.hits()).toBe(0);
  });

  it('a request sent again to another host gets that host’s credentials, not the previous ones', async () => {
    await using a = await createTestServer();
    await using b = await createTestServer();
    echo(a);
    echo(b);
    // An outer layer that fails over from a to b (as a hook re-send or a load balancer would).
    const failover = defineMiddleware(async function failover(ctx, next) {
      await (await next()).text();
      ctx.request.url = new URL(`${b.url}/echo`);
      return next();
    });
    await using client = compose()
      .use(failover)
      .use(auth({ apiKey: 'global-key', endpoints: { [hostOf(a)]: { bearer: 'a-only' } } }))
      .build();
    const onB = await headersOf(await client.get(`${a.url}/echo`));
    expect(a.requests('/echo')[0]?.headers.authorization).toBe('Bearer a-only');
    expect([onB.authorization, onB['x-api-key']]).toEqual([undefined, 'global-key']);
  });
});

describe('auth: setters and options', () => {
  it('setters change the credentials of the next request', async () => {
    await using server = await createTestServer();
    echo(server);
    const layer = auth();
    await using client = compose().use(layer).build();
    const get = async () => headersOf(await client.get(`${server.url}/echo`));
    expect((await get()).authorization).toBeUndefined();
    layer.setApiKey('k1');
    layer.setBasicAuth('ann', 'pw');
    expect([(await get())['x-api-key'], (await get()).authorization]).toEqual(['k1', `Basic ${Buffer.from('ann:pw').toString('base64')}`]);
    layer.setBearerToken('b1');
    layer.setApiKey('k2', 'X-Other-Key');
    const after = await get();
    expect([after.authorization, after['x-other-key'], after['x-api-key']]).toEqual(['Bearer b1', 'k2', undefined]);
    layer.setOAuth2Token(() => 'o1');
    expect((await get()).authorization).toBe('Bearer o1');
    const host = hostOf(server);
    layer.setEndpointAuth(host, 'api_key', { apiKey: 'ep-key', headerName: 'X-Ep-Key' });
    layer.setEndpointAuth(host, 'bearer', { token: 'ep-token' });
    const endpoint = await get();
    expect([endpoint['x-ep-key'], endpoint.authorization, endpoint['x-other-key']]).toEqual(['ep-key', 'Bearer ep-token', undefined]);
    layer.setEndpointAuth(host, 'basic', { username: 'u', password: 'p' });
    expect((await get()).authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    layer.setEndpointAuth(host, 'oauth2', 'ep-oauth');
    expect((await get()).authorization).toBe('Bearer ep-oauth');
    layer.setEndpointAuth(host, 'none');
    const none = await get();
    expect([none.authorization, none['x-other-key'], none['x-ep-key']]).toEqual([undefined, undefined, undefined]);
    layer.clearAuth(host);
    expect((await get()).authorization).toBe('Bearer o1');
    layer.clearAuth();
    expect((await get()).authorization).toBeUndefined();
    expect(client.describe()[0]?.options).toMatchObject({ global: {}, endpoints: {}, apiKeyHeader: 'X-API-Key' });
  });

  it('describe() names the schemes and headers, never a secret', () => {
    const layer = auth({ apiKey: 'secret-key', oauth2: () => 'secret-token', endpoints: { 'api.example.com': { basic: { username: 'u', password: 'secret-pw' } } } });
    const options = compose().use(layer).build().describe()[0]?.options;
    expect(options).toEqual({
      global: { apiKey: 'x-api-key', authorization: 'oauth2 (getter)' },
      endpoints: { 'api.example.com': { authorization: 'basic' } },
      apiKeyHeader: 'X-API-Key',
      refreshOnStatus: [401],
    });
    expect(JSON.stringify(options)).not.toContain('secret');
  });

  it('bad options and setter arguments are InvalidOptionsError naming the path', () => {
    const message = (fn: () => unknown) => {
      const error = caught(fn);
      return isInvalidOptionsError(error) ? error.message : String(error);
    };
    expect(message(() => auth({ bearer: 't', basic: { username: 'u', password: 'p' } }))).toMatch(
      /^auth\.basic: only one of bearer, oauth2 and basic may be set \(they all go in Authorization\); bearer and basic are/,
    );
    expect(message(() => auth({ endpoints: { 'example.com/?q=1': { apiKey: 'k' } } }))).toMatch(/^auth\.endpoints\.example\.com\/\?q=1: .*never the query/);
    expect(message(() => auth({ apiKeyHeader: 'bad header' }))).toMatch(/^auth\.apiKeyHeader: .*an HTTP header name, got /);
    expect(message(() => auth({ basic: { username: 'a:b', password: 'p' } }))).toMatch(/^auth\.basic\.username: a basic-auth user name cannot contain ":"/);
    expect(message(() => auth({ token: 'x' } as never))).toBe("auth: unknown option 'token'");
    const layer = auth();
    expect(message(() => layer.setBearerToken(''))).toMatch(/^setBearerToken\.token: .*a string of at least 1 characters, got ""$/);
    expect(message(() => layer.setEndpointAuth('example.com', 'digest' as never, 'x'))).toMatch(/^setEndpointAuth\.type: expected one of/);
    expect(message(() => layer.setEndpointAuth('http://x/?a', 'bearer', 'x'))).toMatch(/^setEndpointAuth\.pattern: .*never the query/);
    expect(message(() => layer.setEndpointAuth('example.com', 'basic', { username: 'u' } as never))).toMatch(/^setEndpointAuth\.values\.password: expected a string, got /);
  });
});
