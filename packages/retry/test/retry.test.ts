import { Readable } from 'node:stream';
import {
  compose,
  defineMiddleware,
  isInvalidOptionsError,
  isNetworkError,
  isTimeoutError,
  nodeFetchTransport,
  ShallotError,
  TimeoutError,
  type TimeoutKind,
  undiciTransport,
} from '@shallot/core';
import { type GiveUpEvent, isMaxRetriesExceededError, MaxRetriesExceededError, retry, type RetryEvent } from '@shallot/retry';
import { createTestServer, failTimes, waitFor } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { describe, expect, it } from 'vitest';

const fast = { kind: 'constant', delayMs: 1 } as const;

describe('retry: what is retried', () => {
  it('fail twice then 200 succeeds on attempt 3', async () => {
    await using server = await createTestServer();
    server.route('/flaky', failTimes(2));
    await using client = compose().use(retry({ backoff: { initialMs: 1, maxMs: 5 } })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/flaky');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(server.hits('/flaky')).toBe(3);
    expect(context.attempt).toBe(3);
    expect(context.retry.attempt).toBe(3);
    expect(context.retry.delaysMs).toHaveLength(2);
    expect(context.retry.exhausted).toBe(false);
  });

  it('a first-time success is sent once and leaves a clean ctx.retry', async () => {
    await using server = await createTestServer();
    server.route('/ok', { json: { ok: true } });
    await using client = compose().use(retry()).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/ok');
    expect(response.status).toBe(200);
    expect(server.hits('/ok')).toBe(1);
    expect(context.retry).toEqual({ attempt: 1, delaysMs: [], exhausted: false, budgetExhausted: false });
  });

  it('exhausted on statuses returns the last response', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 502, body: 'bad gateway' });
    const gaveUp: GiveUpEvent[] = [];
    await using client = compose().use(retry({ maxAttempts: 3, backoff: fast, onGiveUp: (e) => gaveUp.push(e) })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('GET', '/down');
    expect(response.status).toBe(502);
    expect(await response.text()).toBe('bad gateway');
    expect(server.hits('/down')).toBe(3);
    expect(context.retry.exhausted).toBe(true);
    expect(gaveUp.map((e) => [e.attempts, e.reason, e.response?.status])).toEqual([[3, 'attempts', 502]]);
  });

  it('exhausted on errors throws MaxRetriesExceededError with attempts and the last error as cause', async () => {
    await using server = await createTestServer();
    server.route('/reset', { action: 'reset' });
    await using client = compose().use(retry({ maxAttempts: 3, backoff: fast })).build({ baseUrl: server.url });
    const error = await client.get('/reset').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MaxRetriesExceededError);
    expect(isMaxRetriesExceededError(error)).toBe(true);
    const e = error as MaxRetriesExceededError;
    expect(e.code).toBe('ERR_MAX_RETRIES');
    expect(e.attempts).toBe(3);
    expect(e.reason).toBe('attempts');
    expect(isNetworkError(e.cause)).toBe(true);
    expect(e.message).toContain('GET');
    expect(server.hits('/reset')).toBe(3);
  });

  it('retries a reset connection', async () => {
    await using server = await createTestServer();
    server.route('/once', [{ action: 'reset' }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const response = await client.get('/once');
    expect(response.status).toBe(200);
    expect(server.hits('/once')).toBe(2);
  });

  it('retries 408 and 429 but no other 4xx', async () => {
    await using server = await createTestServer();
    server.route('/408', failTimes(1, { json: { ok: true } }, { status: 408 }));
    server.route('/429', failTimes(1, { json: { ok: true } }, { status: 429 }));
    server.route('/404', { status: 404 });
    server.route('/400', { status: 400 });
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    expect((await client.get('/408')).status).toBe(200);
    expect((await client.get('/429')).status).toBe(200);
    expect((await client.get('/404')).status).toBe(404);
    expect((await client.get('/400')).status).toBe(400);
    expect(server.hits('/408')).toBe(2);
    expect(server.hits('/429')).toBe(2);
    expect(server.hits('/404')).toBe(1);
    expect(server.hits('/400')).toBe(1);
  });

  it('retryOnStatus replaces the statuses retried', async () => {
    await using server = await createTestServer();
    server.route('/409', failTimes(1, { json: { ok: true } }, { status: 409 }));
    server.route('/503', { status: 503 });
    await using client = compose().use(retry({ backoff: fast, retryOnStatus: [409] })).build({ baseUrl: server.url });
    expect((await client.get('/409')).status).toBe(200);
    expect((await client.get('/503')).status).toBe(503);
    expect(server.hits('/409')).toBe(2);
    expect(server.hits('/503')).toBe(1);
  });

  it.each(['ERR_CIRCUIT_OPEN', 'ERR_RATE_LIMITED', 'ERR_TLS_PIN', 'ERR_INVALID_OPTIONS', 'ERR_CLIENT_CLOSED', 'ERR_MIDDLEWARE_PROTOCOL', 'ERR_HTTP'])(
    'never retries an error with code %s',
    async (code) => {
      let calls = 0;
      const refuse = defineMiddleware(async function refuse() {
        calls++;
        throw new ShallotError(code, 'refused');
      });
      await using client = compose().use(retry({ backoff: fast })).use(refuse).build();
      const error = await client.get('http://127.0.0.1:9/never').catch((e: unknown) => e);
      expect((error as ShallotError).code).toBe(code);
      expect(calls).toBe(1);
    },
  );

  it.each([
    ['connect', 2],
    ['attempt', 2],
    ['read', 2],
    ['total', 1],
  ] as const)('a %s timeout from an inner layer is retried: %i calls', async (kind: TimeoutKind, expected: number) => {
    let calls = 0;
    const slow = defineMiddleware(async function slow(ctx, next) {
      calls++;
      if (calls === 1) throw new TimeoutError(kind, 50, { request: ctx.request });
      return next();
    });
    await using server = await createTestServer();
    server.route('/t', { json: { ok: true } });
    await using client = compose().use(retry({ backoff: fast })).use(slow).build({ baseUrl: server.url });
    const outcome = await client.get('/t').then((r) => r.status, (e: unknown) => (e as TimeoutError).kind);
    expect(calls).toBe(expected);
    expect(outcome).toBe(expected === 2 ? 200 : 'total');
  });

  it('works the same over the node-fetch transport', async () => {
    await using server = await createTestServer();
    server.route('/flaky', [{ status: 503, body: 'busy' }, { action: 'reset' }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url, transport: nodeFetchTransport() });
    const response = await client.get('/flaky');
    expect(await response.json()).toEqual({ ok: true });
    expect(server.hits('/flaky')).toBe(3);
  });

  it('never retries an error it does not know', async () => {
    let calls = 0;
    const broken = defineMiddleware(async function broken() {
      calls++;
      throw new TypeError('a bug');
    });
    await using client = compose().use(retry({ backoff: fast })).use(broken).build();
    await expect(client.get('http://127.0.0.1:9/never')).rejects.toThrow(TypeError);
    expect(calls).toBe(1);
  });

  it('each attempt re-runs every inner layer', async () => {
    await using server = await createTestServer();
    server.route('/flaky', failTimes(2));
    const seen: number[] = [];
    const inner = defineMiddleware(async function inner(ctx, next) {
      seen.push(ctx.attempt);
      ctx.request.headers.set('x-attempt', String(ctx.attempt));
      return next();
    });
    await using client = compose().use(retry({ backoff: fast })).use(inner).build({ baseUrl: server.url });
    expect((await client.get('/flaky')).status).toBe(200);
    expect(seen).toEqual([1, 2, 3]);
    expect(server.requests('/flaky').map((r) => r.headers['x-attempt'])).toEqual(['1', '2', '3']);
  });

  it('discards a retried response body, freeing its socket for the next attempt', async () => {
    await using server = await createTestServer();
    // A 503 whose body trickles in for about a second; one socket only.
    server.route('/slow-503', [{ status: 503, chunks: Array.from({ length: 20 }, () => 'x'), chunkDelayMs: 50 }, { json: { ok: true } }]);
    await using client = compose()
      .use(retry({ backoff: fast }))
      .build({ baseUrl: server.url, transport: undiciTransport({ maxSockets: 1 }) });
    const response = await client.get('/slow-503');
    expect(response.status).toBe(200);
    await waitFor(() => server.requests('/slow-503')[0]?.aborted === true);
    expect(server.hits('/slow-503')).toBe(2);
  });

  it('describe() shows the resolved options', async () => {
    await using client = compose().use(retry({ maxAttempts: 2 })).build();
    const [layer] = client.describe();
    expect(layer?.name).toBe('retry');
    expect(layer?.options).toMatchObject({ maxAttempts: 2, backoff: { kind: 'exponential', initialMs: 100, maxMs: 10_000, jitter: 'decorrelated' } });
  });
});

describe('retry: idempotency', () => {
  it('POST on 503 is sent exactly once', async () => {
    await using server = await createTestServer();
    server.route('/orders', failTimes(1));
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const { response, context } = await client.exchange('POST', '/orders', { json: { item: 1 } });
    expect(response.status).toBe(503);
    expect(server.hits('/orders')).toBe(1);
    expect(context.retry.exhausted).toBe(false);
  });

  it('PATCH on a reset connection is not re-sent', async () => {
    await using server = await createTestServer();
    server.route('/orders/1', [{ action: 'reset' }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const error = await client.patch('/orders/1', { json: { item: 1 } }).catch((e: unknown) => e);
    expect(isNetworkError(error)).toBe(true);
    expect(server.hits('/orders/1')).toBe(1);
  });

  it('POST with an Idempotency-Key is retried with the same key', async () => {
    await using server = await createTestServer();
    server.route('/orders', failTimes(2));
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const response = await client.post('/orders', { json: { item: 1 }, headers: { 'idempotency-key': 'order-42' } });
    expect(response.status).toBe(200);
    expect(server.requests('/orders').map((r) => [r.headers['idempotency-key'], r.body.toString()])).toEqual([
      ['order-42', '{"item":1}'],
      ['order-42', '{"item":1}'],
      ['order-42', '{"item":1}'],
    ]);
  });

  it('idempotencyKey: true gives POST a fresh key, the same on every attempt', async () => {
    await using server = await createTestServer();
    server.route('/orders', failTimes(1));
    server.route('/items', { json: [] });
    await using client = compose().use(retry({ backoff: fast, idempotencyKey: true })).build({ baseUrl: server.url });
    expect((await client.post('/orders', { json: {} })).status).toBe(200);
    expect((await client.post('/orders', { json: {} })).status).toBe(200);
    await client.get('/items');
    const keys = server.requests('/orders').map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(server.requests('/items')[0]?.headers['idempotency-key']).toBeUndefined();
  });

  it('methods lists what is retried', async () => {
    await using server = await createTestServer();
    server.route('/post', failTimes(1));
    server.route('/get', failTimes(1));
    await using client = compose().use(retry({ backoff: fast, methods: ['post'] })).build({ baseUrl: server.url });
    expect((await client.post('/post', { body: 'x' })).status).toBe(200);
    expect((await client.get('/get')).status).toBe(503);
    expect(server.hits('/post')).toBe(2);
    expect(server.hits('/get')).toBe(1);
  });

  it('a stream body is never re-sent: a failed send gives up with BodyNotReplayableError as cause', async () => {
    await using server = await createTestServer();
    server.route('/upload', [{ action: 'reset' }, { json: { ok: true } }]);
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const body = Readable.from([Buffer.from('part 1 '), Buffer.from('part 2')]);
    const error = await client.put('/upload', { body }).catch((e: unknown) => e);
    expect(isMaxRetriesExceededError(error)).toBe(true);
    expect((error as MaxRetriesExceededError).attempts).toBe(1);
    expect((error as MaxRetriesExceededError).reason).toBe('body-not-replayable');
    expect(((error as MaxRetriesExceededError).cause as ShallotError).code).toBe('ERR_BODY_NOT_REPLAYABLE');
    expect(server.hits('/upload')).toBe(1);
  });

  it('a stream body is never re-sent: a retryable status is returned as it came (nothing would be re-sent)', async () => {
    await using server = await createTestServer();
    server.route('/upload', failTimes(1));
    const reasons: string[] = [];
    const layer = retry({ backoff: fast });
    layer.onGiveUp((event) => reasons.push(event.reason));
    await using client = compose().use(layer).build({ baseUrl: server.url });
    const body = Readable.from([Buffer.from('part 1 '), Buffer.from('part 2')]);
    const response = await client.put('/upload', { body });
    expect(response.status).toBe(503);
    await response.arrayBuffer();
    expect(reasons).toEqual(['body-not-replayable']);
    expect(server.hits('/upload')).toBe(1);
    expect(server.requests('/upload')[0]?.body.toString()).toBe('part 1 part 2');
  });

  it('returns a 503 whose Retry-After is past maxRetryAfterMs, whether the body is a stream or a string', async () => {
    await using server = await createTestServer();
    server.route('/busy', { status: 503, retryAfter: 120 });
    await using client = compose()
      .use(retry({ backoff: fast, maxRetryAfterMs: 1_000 }))
      .build({ baseUrl: server.url });
    const streamed = await client.put('/busy', { body: Readable.from([Buffer.from('x')]) });
    expect(streamed.status).toBe(503);
    await streamed.arrayBuffer();
    const text = await client.put('/busy', { body: 'x' });
    expect(text.status).toBe(503);
    await text.arrayBuffer();
    expect(server.hits('/busy')).toBe(2);
  });
});

describe('retry: shouldRetry and events', () => {
  it('shouldRetry overrides the default decision', async () => {
    await using server = await createTestServer();
    server.route('/404', failTimes(1, { json: { ok: true } }, { status: 404 }));
    server.route('/503', { status: 503 });
    const outcomes: unknown[] = [];
    await using client = compose()
      .use(
        retry({
          backoff: fast,
          shouldRetry: (_ctx, outcome) => {
            outcomes.push([outcome.attempt, outcome.response?.status, outcome.retryable]);
            return outcome.response?.status === 404;
          },
        }),
      )
      .build({ baseUrl: server.url });
    expect((await client.get('/404')).status).toBe(200);
    expect((await client.get('/503')).status).toBe(503);
    expect(server.hits('/404')).toBe(2);
    expect(server.hits('/503')).toBe(1);
    expect(outcomes).toEqual([
      [1, 404, false],
      [2, 200, false],
      [1, 503, true],
    ]);
  });

  it('onRetry reports each retry; dispose() stops it; a throwing listener is skipped', async () => {
    await using server = await createTestServer();
    server.route('/flaky', failTimes(2));
    const mw = retry({ backoff: { kind: 'constant', delayMs: 3 } });
    const events: RetryEvent[] = [];
    mw.onRetry(() => {
      throw new Error('listener bug');
    });
    const sub = mw.onRetry((e) => events.push(e));
    await using client = compose().use(mw).build({ baseUrl: server.url });
    expect((await client.get('/flaky')).status).toBe(200);
    expect(events.map((e) => [e.attempt, e.delayMs, e.response?.status])).toEqual([
      [1, 3, 503],
      [2, 3, 503],
    ]);
    sub.dispose();
    server.reset();
    expect((await client.get('/flaky')).status).toBe(200);
    expect(events).toHaveLength(2);
  });

  it('onGiveUp listeners added on the middleware hear why it stopped', async () => {
    await using server = await createTestServer();
    server.route('/reset', { action: 'reset' });
    const mw = retry({ maxAttempts: 2, backoff: fast });
    const events: GiveUpEvent[] = [];
    mw.onGiveUp((e) => events.push(e));
    await using client = compose().use(mw).build({ baseUrl: server.url });
    await expect(client.get('/reset')).rejects.toThrow(MaxRetriesExceededError);
    expect(events).toHaveLength(1);
    expect(events[0]?.attempts).toBe(2);
    expect(events[0]?.reason).toBe('attempts');
    expect(isNetworkError(events[0]?.error)).toBe(true);
  });
});

describe('retry: time', () => {
  it('an attempt timeout inside retry is retried', async () => {
    await using server = await createTestServer();
    server.route('/slow-once', [{ delayMs: 1_000, json: { slow: true } }, { json: { ok: true } }]);
    await using client = compose()
      .use(retry({ backoff: fast }))
      .use(timeout({ attemptMs: 100 }))
      .build({ baseUrl: server.url });
    const response = await client.get('/slow-once');
    expect(await response.json()).toEqual({ ok: true });
    expect(server.hits('/slow-once')).toBe(2);
  });

  it('never sleeps past a total timeout placed outside it', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    const events: GiveUpEvent[] = [];
    await using client = compose()
      .use(timeout({ totalMs: 1_000 }))
      .use(retry({ maxAttempts: 10, backoff: { kind: 'constant', delayMs: 400 }, onGiveUp: (e) => events.push(e) }))
      .build({ baseUrl: server.url });
    const started = Date.now();
    const { response, context } = await client.exchange('GET', '/down');
    // Attempts at about 0, 400 and 800 ms; a fourth would need a wait past the deadline.
    expect(response.status).toBe(503);
    expect(server.hits('/down')).toBe(3);
    expect(context.retry.exhausted).toBe(true);
    expect(events[0]?.reason).toBe('deadline');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a total timeout firing during an attempt is not retried', async () => {
    await using server = await createTestServer();
    server.route('/hang', { action: 'hang' });
    await using client = compose()
      .use(timeout({ totalMs: 150 }))
      .use(retry({ backoff: fast }))
      .build({ baseUrl: server.url });
    const error = await client.get('/hang').catch((e: unknown) => e);
    expect(isTimeoutError(error)).toBe(true);
    expect((error as { kind: string }).kind).toBe('total');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hits('/hang')).toBe(1);
  });

  it('abort during backoff rejects at once and sends nothing more', async () => {
    await using server = await createTestServer();
    server.route('/down', { status: 503 });
    await using client = compose()
      .use(retry({ backoff: { kind: 'constant', delayMs: 5_000 } }))
      .build({ baseUrl: server.url });
    const controller = new AbortController();
    const pending = client.get('/down', { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => server.hits('/down') === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const aborted = Date.now();
    controller.abort(new Error('caller gave up'));
    const error = await pending;
    expect((error as Error).message).toBe('caller gave up');
    expect(Date.now() - aborted).toBeLessThan(1_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hits('/down')).toBe(1);
  });

  it("the caller's abort during an attempt is not retried", async () => {
    await using server = await createTestServer();
    server.route('/hang', { action: 'hang' });
    await using client = compose().use(retry({ backoff: fast })).build({ baseUrl: server.url });
    const controller = new AbortController();
    const pending = client.get('/hang', { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => server.hits('/hang') === 1);
    controller.abort(new Error('stop'));
    expect(((await pending) as Error).message).toBe('stop');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.hits('/hang')).toBe(1);
  });
});

describe('retry: options', () => {
  it('bad options fail at construction, naming the path', () => {
    const attempt = (options: unknown) => {
      try {
        retry(options as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const bad = attempt({ maxAttempts: -1 });
    expect(isInvalidOptionsError(bad)).toBe(true);
    expect((bad as Error).message).toContain('retry.maxAttempts');
    expect((attempt({ backoff: { kind: 'constant' } }) as Error).message).toContain('retry.backoff.delayMs');
    expect((attempt({ backoff: { kind: 'exponential', jitter: 'lots' } }) as Error).message).toContain('retry.backoff.jitter');
    expect((attempt({ retries: 3 }) as Error).message).toContain("'retries'");
    expect((attempt({ budget: {} }) as Error).message).toContain('retry.budget');
    expect(attempt({ backoff: { initialMs: 300 } })).toBeUndefined();
  });
});
