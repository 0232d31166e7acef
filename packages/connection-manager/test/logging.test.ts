import { ConnectionManager } from '@shallot/connection-manager';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { recordingLogger } from './helpers.js';

describe('logging', () => {
  it('logs one line per request, with its headers, URL and errors redacted', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    server.route('/reset', { action: 'reset' });
    const logger = recordingLogger();
    await using manager = new ConnectionManager({ logger, maxRetries: 0, apiKey: 'key-abc123', bearerToken: 'token123' });
    await (await manager.get(`${server.url}/ok?access_token=qs-secret&page=2`, { headers: { Cookie: 'session=cookie-secret' } })).text();
    await manager.get(`${server.url}/reset`).catch(() => {});
    const debug = logger.lines.find((l) => l.level === 'debug' && l.message?.endsWith('-> 200'));
    expect(debug?.fields).toMatchObject({
      method: 'GET',
      status: 200,
      url: `${server.url}/ok?access_token=[REDACTED]&page=2`,
      headers: { authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', cookie: '[REDACTED]' },
    });
    expect(logger.lines.find((l) => l.level === 'warn')?.message).toBe(`GET ${server.url}/reset failed`);
    const text = logger.text();
    for (const secret of ['key-abc123', 'token123', 'qs-secret', 'cookie-secret']) expect(text).not.toContain(secret);
  });

  it('"Authorization: Bearer token123" in a message is redacted whole (the original left the token)', async () => {
    await using server = await createTestServer();
    server.route('/ok', { body: 'ok' });
    const logger = recordingLogger();
    await using manager = new ConnectionManager({ logger });
    manager.registerPreRequestHook(function leaky() {
      throw new Error('upstream rejected Authorization: Bearer token123 and {"password": "hunter2"}');
    });
    await (await manager.get(`${server.url}/ok`)).text();
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.message).toBe("hooks: pre-request hook 'leaky' threw; it was skipped");
    // An Authorization line is redacted to its end: whatever follows the scheme may be the credential.
    expect((warning?.fields as { err: { message: string } }).err.message).toBe('upstream rejected Authorization: [REDACTED]');
    expect(logger.text()).not.toMatch(/token123|hunter2/);
  });

  it('without a logger nothing is logged and no logging layer runs', async () => {
    await using manager = new ConnectionManager();
    expect(manager.describe().map((l) => l.name)).not.toContain('requestLog');
  });
});
