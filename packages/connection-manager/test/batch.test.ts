import { ConnectionManager, isInvalidOptionsError, isMaxRetriesExceededError, isNetworkError } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { rejection, thrown, transports } from './helpers.js';

describe.each(transports)('batchRequest over %s', (transport) => {
  it('returns results in input order, at most maxWorkers in flight, bodies already read', async () => {
    await using server = await createTestServer();
    let inFlight = 0;
    let most = 0;
    server.route('*', async (req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Later items answer sooner, so completion order is not input order.
      await new Promise((resolve) => setTimeout(resolve, 30 - Number(req.path.slice(1)) * 2));
      inFlight--;
      res.end(`${req.method} ${req.path} ${req.body.toString()}`);
    });
    await using manager = new ConnectionManager({ transport, poolMaxsize: 20 });
    const items = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? (['GET', `${server.url}/${i}`] as const) : { method: 'POST', url: `${server.url}/${i}`, body: `b${i}` }));
    const results = await manager.batchRequest(items, { maxWorkers: 3 });
    const texts = await Promise.all(results.map((r) => (r as Response).text()));
    expect(texts).toEqual(items.map((_, i) => (i % 2 === 0 ? `GET /${i} ` : `POST /${i} b${i}`)));
    expect(most).toBe(3);
  });
});

describe('batchRequest', () => {
  it('by default a failure takes its place in the results (returnExceptions: true)', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    server.route('/reset', { action: 'reset' });
    await using manager = new ConnectionManager({ maxRetries: 0 });
    const results = await manager.batchRequest([
      ['GET', `${server.url}/ok`],
      ['GET', `${server.url}/reset`, {}],
      { method: 'GET', url: new URL(`${server.url}/ok`), headers: { 'x-n': '3' } },
    ]);
    expect(results[0]).toBeInstanceOf(Response);
    expect(isNetworkError(results[1])).toBe(true);
    expect(await (results[2] as Response).text()).toBe('ok');
    expect(server.requests('/ok')[1]?.headers['x-n']).toBe('3');
  });

  it('with returnExceptions: false it waits for every request, then throws the failure with the lowest index', async () => {
    await using server = await createTestServer();
    server.route('/slow-fail', { delayMs: 60, action: 'reset' });
    server.route('/fast-fail', { action: 'reset' });
    server.route('/ok', { delayMs: 80, body: 'ok' });
    await using manager = new ConnectionManager({ maxRetries: 1, backoffFactorMs: 1 });
    const error = await rejection(
      manager.batchRequest(
        [
          ['GET', `${server.url}/ok`],
          ['GET', `${server.url}/slow-fail`],
          ['GET', `${server.url}/fast-fail`],
          ['GET', `${server.url}/ok`],
        ],
        { returnExceptions: false, maxWorkers: 4 },
      ),
    );
    expect(isMaxRetriesExceededError(error)).toBe(true);
    // The request at index 2 failed first; the one at index 1 is thrown, once all had settled.
    expect((error as Error).message).toContain('/slow-fail');
    expect(server.hits('/ok')).toBe(2);
    expect(server.hits('/fast-fail')).toBe(2);
  });

  it('a bad item is refused before anything is sent, naming its index', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    await using manager = new ConnectionManager();
    const message = async (items: unknown[], options?: unknown) => {
      const error = await rejection(manager.batchRequest(items as never, options as never));
      expect(isInvalidOptionsError(error)).toBe(true);
      return (error as Error).message;
    };
    expect(await message([['GET', `${server.url}/ok`], ['GET'], ['GET', `${server.url}/ok`]])).toMatch(/^batchRequest\.items\[1\]/);
    expect(await message([['GET', `${server.url}/ok`], { method: 'GET' }])).toBe('batchRequest.items[1].url: expected a URL (a string or a URL), got undefined');
    expect(await message([['G ET', `${server.url}/ok`]])).toBe('batchRequest.items[0].0: expected an HTTP method, got "G ET"');
    expect(await message([['GET', `${server.url}/ok`, 'nope']])).toBe('batchRequest.items[0].2: expected an options object, got "nope"');
    expect(await message([], { maxWorkers: 0 })).toBe('batchRequest.maxWorkers: expected a number >= 1, got 0');
    expect(await message([], { workers: 2 })).toBe("batchRequest: unknown option 'workers'");
    expect(server.hits()).toBe(0);
    expect(await manager.batchRequest([])).toEqual([]);
    expect(isInvalidOptionsError(thrown(() => manager.addEndpointConfig('x', { maxRetries: 'three' } as never)))).toBe(true);
  });
});
