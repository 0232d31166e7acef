import { ConnectionManager, isMaxRetriesExceededError, isNetworkError, MaxRetriesExceededError } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { rejection, transports } from './helpers.js';

describe.each(transports)('retries over %s', (transport) => {
  it('maxRetries: N is N retries after the first attempt', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    for (const maxRetries of [0, 1, 3]) {
      server.reset();
      await using manager = new ConnectionManager({ transport, maxRetries, backoffFactorMs: 1 });
      expect((await manager.get(`${server.url}/down`)).status).toBe(503);
      expect(server.hits('/down')).toBe(maxRetries + 1);
    }
  });

  it('network errors exhausted throw MaxRetriesExceededError with the attempts and the last error (the original never raised it)', async () => {
    await using server = await createTestServer();
    server.route('/reset', { action: 'reset' });
    await using manager = new ConnectionManager({ transport, maxRetries: 2, backoffFactorMs: 1 });
    const error = await rejection(manager.get(`${server.url}/reset`));
    expect(error).toBeInstanceOf(MaxRetriesExceededError);
    expect(isMaxRetriesExceededError(error)).toBe(true);
    expect((error as MaxRetriesExceededError).attempts).toBe(3);
    expect(isNetworkError((error as MaxRetriesExceededError).cause)).toBe(true);
    expect(server.hits('/reset')).toBe(3);
  });
});

describe('retries: what is retried and how long it waits', () => {
  it('retries 429, 500, 502, 503 and 504 by default, not other statuses', async () => {
    await using server = await createTestServer();
    for (const status of [429, 500, 502, 503, 504, 501, 404, 408]) server.route(`/${status}`, [{ status }, { body: 'ok' }]);
    await using manager = new ConnectionManager({ maxRetries: 1, backoffFactorMs: 1 });
    const statuses = [];
    for (const status of [429, 500, 502, 503, 504, 501, 404, 408]) statuses.push((await manager.get(`${server.url}/${status}`)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 501, 404, 408]);
  });

  it('POST and PATCH are never retried without an Idempotency-Key; with one they are', async () => {
    await using server = await createTestServer();
    server.route('/write', { status: 503 });
    await using manager = new ConnectionManager({ maxRetries: 2, backoffFactorMs: 1, circuitBreakerFailureThreshold: null });
    await manager.post(`${server.url}/write`, { json: { a: 1 } });
    await manager.patch(`${server.url}/write`, { json: { a: 1 } });
    expect(server.hits('/write')).toBe(2);
    await manager.post(`${server.url}/write`, { json: { a: 1 }, headers: { 'Idempotency-Key': 'k-1' } });
    expect(server.hits('/write')).toBe(5);
    await manager.put(`${server.url}/write`, { json: { a: 1 } });
    expect(server.hits('/write')).toBe(8);
  });

  it('backoffFactorMs follows urllib3: retry n waits backoffFactorMs * 2 ** (n - 1), capped at backoffMaxMs', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 502 });
    await using manager = new ConnectionManager({ maxRetries: 4, backoffFactorMs: 5, backoffMaxMs: 30 });
    const { context } = await manager.client.exchange('GET', `${server.url}/down`);
    expect(context.retry?.delaysMs).toEqual([5, 10, 20, 30]);
  });

  it('a Retry-After on 429 or 503 replaces the backoff', async () => {
    await using server = await createTestServer();
    server.route('/limited', [{ status: 429, retryAfter: 0 }, { body: 'ok' }]);
    await using manager = new ConnectionManager({ maxRetries: 1, backoffFactorMs: 10_000 });
    const { response, context } = await manager.client.exchange('GET', `${server.url}/limited`);
    expect(await response.text()).toBe('ok');
    expect(context.retry?.delaysMs).toEqual([0]);
  });

  it('retryOnStatus chooses the statuses', async () => {
    await using server = await createTestServer();
    server.route('/teapot', [{ status: 418 }, { body: 'ok' }]);
    server.route('/down', { status: 503 });
    await using manager = new ConnectionManager({ maxRetries: 1, backoffFactorMs: 1, retryOnStatus: [418] });
    expect((await manager.get(`${server.url}/teapot`)).status).toBe(200);
    expect((await manager.get(`${server.url}/down`)).status).toBe(503);
    expect(server.hits('/down')).toBe(1);
  });
});
