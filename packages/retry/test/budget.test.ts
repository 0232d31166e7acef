import { compose, isInvalidOptionsError } from '@shallot/core';
import { retry, retryBudget } from '@shallot/retry';
import { createTestServer, virtualClock } from '@shallot/testing';
import { describe, expect, it } from 'vitest';

describe('retryBudget', () => {
  it('stops a retry storm: 100 failing requests get at most the budgeted retries', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    // Frozen time: the reserve does not refill, so the budget is exactly 10 % of 100 plus 2.
    const clock = virtualClock();
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 2 });
    await using client = compose()
      .use(retry({ maxAttempts: 4, backoff: { kind: 'constant', delayMs: 0 }, budget }))
      .build({ baseUrl: server.url, clock });
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const { response, context } = await client.exchange('GET', '/down');
      expect(response.status).toBe(503);
      if (context.retry.budgetExhausted) refused++;
    }
    const retries = server.hits('/down') - 100;
    expect(retries).toBe(12);
    expect(refused).toBeGreaterThanOrEqual(88);
    // Without a budget the same storm would have been 300 retries.
  });

  it('keeps one budget per key', async () => {
    await using server = await createTestServer();
    server.route('/a', { status: 503 });
    server.route('/b', { status: 503 });
    const clock = virtualClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, key: (ctx) => ctx.request.url.pathname });
    await using client = compose()
      .use(retry({ backoff: { kind: 'constant', delayMs: 0 }, budget }))
      .build({ baseUrl: server.url, clock });
    await client.get('/a');
    await client.get('/a');
    await client.get('/b');
    // One reserve retry each: /a twice (1 retry), /b once (1 retry).
    expect(server.hits('/a')).toBe(3);
    expect(server.hits('/b')).toBe(2);
  });

  it('refills the reserve at minPerSecond and forgets requests after ttlMs', () => {
    const budget = retryBudget({ ratio: 0.5, minPerSecond: 10, ttlMs: 1_000 });
    const t0 = 1_000_000;
    for (let i = 0; i < 10; i++) budget.deposit('k', t0);
    let granted = 0;
    while (budget.tryWithdraw('k', t0)) granted++;
    expect(granted).toBe(5 + 10);
    expect(budget.snapshot('k', t0)).toEqual({ requests: 10, retries: 5, reserve: 0 });
    // 100 ms later the reserve has one retry again.
    expect(budget.tryWithdraw('k', t0 + 100)).toBe(true);
    expect(budget.tryWithdraw('k', t0 + 100)).toBe(false);
    // Past the window the requests and retries are forgotten; the reserve is full again.
    expect(budget.snapshot('k', t0 + 5_000)).toEqual({ requests: 0, retries: 0, reserve: 10 });
  });

  it('host is the default key', async () => {
    const budget = retryBudget();
    expect(budget.options).toMatchObject({ ratio: 0.2, minPerSecond: 10, key: 'host' });
    await using server = await createTestServer();
    server.route('/x', { json: {} });
    await using client = compose().use(retry({ budget })).build({ baseUrl: server.url });
    const { context } = await client.exchange('GET', '/x');
    expect(budget.keyOf(context)).toBe(new URL(server.url).host);
    expect(budget.snapshot(new URL(server.url).host, Date.now()).requests).toBe(1);
  });

  it('rejects bad options at construction', () => {
    expect(() => retryBudget({ ratio: -1 })).toThrow(/retryBudget\.ratio/);
    try {
      retryBudget({ key: 'path' as never });
    } catch (error) {
      expect(isInvalidOptionsError(error)).toBe(true);
    }
  });
});
