import { registerMiddleware, stackFromConfig } from '@shallot/cli';
import { circuitBreaker } from '@shallot/circuit-breaker';
import { compose, isInvalidOptionsError } from '@shallot/core';
import { createTestServer, runMiddlewareConformance, waitFor } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { type AlertDeliveryError, type CircuitOpenAlert, circuitOpenAlert, isAlertDeliveryError, shallotMiddleware } from '../src/index.js';

async function upstreams() {
  const api = await createTestServer();
  api.route('/down', { status: 503 }).route('/up', { json: { ok: true } });
  const hooks = await createTestServer();
  hooks.route('/alerts', { status: 204 }).route('/broken', { status: 500 });
  return { api, hooks, async [Symbol.asyncDispose]() { await api.close(); await hooks.close(); } };
}

describe('circuitOpenAlert', () => {
  it('posts one alert when a failure opens the circuit, and none for the refusals that follow within minIntervalMs', async () => {
    await using servers = await upstreams();
    const alert = circuitOpenAlert({ webhookUrl: `${servers.hooks.url}/alerts`, headers: { authorization: 'Bearer hook-token' } });
    const client = compose().use(alert).use(circuitBreaker({ failureThreshold: 2, recoveryTimeoutMs: 60_000 })).build({ baseUrl: servers.api.url });
    try {
      const first = await client.exchange('GET', '/down');
      expect(first.context.circuitOpenAlert.alerted).toBe(false);
      const second = await client.exchange('GET', '/down'); // the second failure opens it
      expect(second.context.circuitOpenAlert.alerted).toBe(true);
      await expect(client.get('/down')).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
      await waitFor(() => servers.hooks.hits('/alerts') === 1);
      const [sent] = servers.hooks.requests('/alerts');
      expect(sent?.headers.authorization).toBe('Bearer hook-token');
      expect(JSON.parse(sent?.body.toString() ?? '')).toMatchObject({ event: 'circuit-open', key: `127.0.0.1:${servers.api.port}`, status: 503 });
      expect(servers.api.hits('/down')).toBe(2);
    } finally {
      await client.close();
    }
    expect(servers.hooks.hits('/alerts')).toBe(1);
  });

  it('alerts again for a circuit still open once minIntervalMs has passed', async () => {
    await using servers = await upstreams();
    const alert = circuitOpenAlert({ webhookUrl: `${servers.hooks.url}/alerts`, minIntervalMs: 0 });
    const seen: CircuitOpenAlert[] = [];
    alert.onAlert((a) => seen.push(a));
    const client = compose().use(alert).use(circuitBreaker({ failureThreshold: 1 })).build({ baseUrl: servers.api.url });
    try {
      await client.get('/down');
      await expect(client.get('/up')).rejects.toMatchObject({ code: 'ERR_CIRCUIT_OPEN' });
      expect(seen.map((a) => a.error === undefined)).toEqual([true, false]);
      expect(seen[1]?.error).toMatch(/is open/);
    } finally {
      await client.close();
    }
    expect(servers.hooks.hits('/alerts')).toBe(2);
  });

  it('never fails or delays the request when the webhook fails; the failure goes to onDeliveryFailure', async () => {
    await using servers = await upstreams();
    const failures: AlertDeliveryError[] = [];
    const alert = circuitOpenAlert({ webhookUrl: `${servers.hooks.url}/broken` });
    alert.onDeliveryFailure((e) => failures.push(e));
    const client = compose().use(alert).use(circuitBreaker({ failureThreshold: 1 })).build({ baseUrl: servers.api.url });
    try {
      expect((await client.get('/down')).status).toBe(503);
      await waitFor(() => failures.length === 1);
      expect(isAlertDeliveryError(failures[0])).toBe(true);
      expect(failures[0]?.message).toBe(`circuitOpenAlert: the alert for circuit '127.0.0.1:${servers.api.port}' was not delivered: the webhook answered 500`);
    } finally {
      await client.close();
    }
  });

  it('refuses bad options with a message naming the option', () => {
    for (const [options, message] of [
      [{ webhookUrl: 'ftp://example.com/' }, 'circuitOpenAlert.webhookUrl: expected an http(s) URL, got "ftp://example.com/"'],
      [{ webhookUrl: 'https://example.com/', minIntervalMs: -1 }, 'circuitOpenAlert.minIntervalMs: expected a number >= 0, got -1'],
      [{ webhookUrl: 'https://example.com/', retries: 3 }, "circuitOpenAlert: unknown option 'retries'"],
    ] as const) {
      try {
        circuitOpenAlert(options as never);
        expect.unreachable();
      } catch (error) {
        expect(isInvalidOptionsError(error)).toBe(true);
        expect((error as Error).message).toBe(message);
      }
    }
  });

  it('keeps the rules every middleware keeps', async () => {
    await using servers = await upstreams();
    await runMiddlewareConformance(circuitOpenAlert, { options: { webhookUrl: `${servers.hooks.url}/alerts` }, invalidOptions: [{}, { webhookUrl: 'not a url' }] });
  });

  it('can be named in a stack config once registered', async () => {
    await using servers = await upstreams();
    const registration = registerMiddleware(shallotMiddleware);
    const client = stackFromConfig({
      baseUrl: servers.api.url,
      middlewares: [
        { use: 'circuitOpenAlert', webhookUrl: `${servers.hooks.url}/alerts` },
        { use: 'circuitBreaker', failureThreshold: 1 },
      ],
    });
    try {
      await client.get('/down');
      await waitFor(() => servers.hooks.hits('/alerts') === 1);
    } finally {
      await client.close();
      registration.dispose();
    }
  });
});
