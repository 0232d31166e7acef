import { AuthTokenError, ConnectionManager } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { echo, type Echoed, hostOf, rejection, transports } from './helpers.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe.each(transports)('credentials over %s', (transport) => {
  it('apiKey (in apiKeyHeader), bearerToken, oauth2Token and basicAuth from the options', async () => {
    await using server = await createTestServer();
    echo(server);
    const seen = async (options: ConstructorParameters<typeof ConnectionManager>[0]) => {
      await using manager = new ConnectionManager({ transport, ...options });
      return (await (await manager.get(`${server.url}/echo`)).json()) as Echoed;
    };
    expect((await seen({ apiKey: 'k1' }))['x-api-key']).toBe('k1');
    expect((await seen({ apiKey: 'k2', apiKeyHeader: 'X-Service-Key' }))['x-service-key']).toBe('k2');
    expect((await seen({ bearerToken: 't1' })).authorization).toBe('Bearer t1');
    expect((await seen({ oauth2Token: async () => 'o1' })).authorization).toBe('Bearer o1');
    expect((await seen({ basicAuth: ['ann', 'pw'] })).authorization).toBe(basic('ann', 'pw'));
    expect((await seen({ basicAuth: { username: 'bob', password: 'pw' } })).authorization).toBe(basic('bob', 'pw'));
  });

  it('a header the caller set is never overwritten (the original overwrote Authorization)', async () => {
    await using server = await createTestServer();
    echo(server);
    await using manager = new ConnectionManager({ transport, bearerToken: 'managers-token', apiKey: 'managers-key' });
    const headers = { Authorization: 'Bearer callers-token', 'X-API-Key': 'callers-key' };
    const seen = (await (await manager.get(`${server.url}/echo`, { headers })).json()) as Echoed;
    expect([seen.authorization, seen['x-api-key']]).toEqual(['Bearer callers-token', 'callers-key']);
    expect(headers).toEqual({ Authorization: 'Bearer callers-token', 'X-API-Key': 'callers-key' });
  });
});

describe('credentials per endpoint and at run time', () => {
  it('endpoint configs carry their own credentials, replacing the global ones for their URLs', async () => {
    await using a = await createTestServer();
    await using b = await createTestServer();
    echo(a);
    echo(b);
    await using manager = new ConnectionManager({
      bearerToken: 'global',
      endpointConfigs: { [hostOf(b)]: { apiKey: 'b-key', apiKeyHeader: 'X-B-Key', maxRetries: 0 } },
    });
    const onA = (await (await manager.get(`${a.url}/echo`)).json()) as Echoed;
    const onB = (await (await manager.get(`${b.url}/echo`)).json()) as Echoed;
    expect([onA.authorization, onA['x-b-key']]).toEqual(['Bearer global', undefined]);
    expect([onB.authorization, onB['x-b-key']]).toEqual([undefined, 'b-key']);
    manager.addEndpointConfig(hostOf(b), { maxRetries: 1 });
    expect(((await (await manager.get(`${b.url}/echo`)).json()) as Echoed).authorization).toBe('Bearer global');
    manager.addEndpointConfig(hostOf(b), { basicAuth: ['b', 'pw'] });
    expect(((await (await manager.get(`${b.url}/echo`)).json()) as Echoed).authorization).toBe(basic('b', 'pw'));
    manager.removeEndpointConfig(hostOf(b));
    expect(((await (await manager.get(`${b.url}/echo`)).json()) as Echoed).authorization).toBe('Bearer global');
  });

  it('the setters change the credentials of the next request', async () => {
    await using server = await createTestServer();
    echo(server);
    await using manager = new ConnectionManager();
    const seen = async () => (await (await manager.get(`${server.url}/echo`)).json()) as Echoed;
    expect((await seen()).authorization).toBeUndefined();
    manager.setApiKey('k1', 'X-Key');
    manager.setBearerToken('b1');
    expect([(await seen())['x-key'], (await seen()).authorization]).toEqual(['k1', 'Bearer b1']);
    manager.setOAuth2Token('o1');
    expect((await seen()).authorization).toBe('Bearer o1');
    manager.setBasicAuth('ann', 'pw');
    expect((await seen()).authorization).toBe(basic('ann', 'pw'));
    manager.setEndpointAuth(hostOf(server), 'bearer', { token: 'endpoint' });
    expect(((await seen()) as Echoed).authorization).toBe('Bearer endpoint');
    manager.clearAuth(hostOf(server));
    expect((await seen()).authorization).toBe(basic('ann', 'pw'));
    manager.clearAuth();
    const cleared = await seen();
    expect([cleared.authorization, cleared['x-key']]).toEqual([undefined, undefined]);
  });

  it('a token getter is refreshed once after a 401 and the request sent again, through the retries and limits', async () => {
    await using server = await createTestServer();
    let valid = 'v1';
    server.route('/data', (req, res) => {
      res.statusCode = req.headers.authorization === `Bearer ${valid}` ? 200 : 401;
      res.end(String(res.statusCode));
    });
    let calls = 0;
    await using manager = new ConnectionManager({ oauth2Token: () => `v${++calls}` });
    expect(await (await manager.get(`${server.url}/data`)).text()).toBe('200');
    valid = 'v2';
    const responses = await Promise.all(Array.from({ length: 20 }, () => manager.get(`${server.url}/data`)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(calls).toBe(2);
  });

  it('a token getter that fails rejects with AuthTokenError, and is bounded by the request timeout', async () => {
    await using server = await createTestServer();
    server.route('/data', { body: 'ok' });
    await using failing = new ConnectionManager({
      bearerToken: () => {
        throw new Error('no vault');
      },
    });
    expect(await rejection(failing.get(`${server.url}/data`))).toBeInstanceOf(AuthTokenError);
    await using hanging = new ConnectionManager({ timeoutMs: 50, bearerToken: () => new Promise<string>(() => {}) });
    expect(await rejection(hanging.get(`${server.url}/data`))).toMatchObject({ code: 'ERR_TIMEOUT', kind: 'total' });
    expect(server.hits()).toBe(0);
  });
});
