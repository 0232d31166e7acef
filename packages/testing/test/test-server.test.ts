import { compose } from '@shallot/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestServer, failTimes, type TestServer } from '@shallot/testing';

let server: TestServer;
afterEach(async () => server?.close());

describe('createTestServer', () => {
  it('plays a sequence and counts hits per route', async () => {
    server = await createTestServer();
    server.route('/flaky', failTimes(2));
    await using client = compose().build({ baseUrl: server.url });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await client.get('/flaky');
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses).toEqual([503, 503, 200, 200]);
    expect(server.hits('/flaky')).toBe(4);
    expect(server.hits('/other')).toBe(0);
  });
});
