import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestServer } from '@shallot/testing';
import { describe, expect, it } from 'vitest';
import { run, spawnBin, tempFiles } from './run-cli.js';

const { dir, file } = tempFiles('shallot-cli-');
const ansi = new RegExp(String.fromCharCode(27) + '\\[');

describe('shallot (the built bin)', () => {
  it('has --help for every command', async () => {
    const top = await spawnBin(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['demo', 'get', 'post', 'put', 'patch', 'delete', 'load', 'config']) expect(top.stdout).toContain(command);
    for (const args of [['demo'], ['get'], ['load'], ['config'], ['config', 'validate'], ['config', 'schema']]) {
      const help = await spawnBin([...args, '--help']);
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: shallot /);
    }
  });

  it('runs the demo offline: every layer does what it is there for, in plain text when not on a terminal', async () => {
    const demo = await spawnBin(['demo']);
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.stdout).not.toMatch(ansi);
    for (const text of ['cache MISS', 'cache HIT', 'cache REVALIDATED', 'retry: attempt 1 got 503', 'Retry-After: 1', 'for a rate-limit token', 'copy 2 answered first', 'redirected to /items', 'closed → open', 'ERR_CIRCUIT_OPEN', 'half-open → closed', 'every layer did what it is there for']) {
      expect(demo.stdout).toContain(text);
    }
  });

  it('colours only when asked: FORCE_COLOR on, NO_COLOR off', async () => {
    const forced = await spawnBin(['config', 'validate', file('colour.json', '{ "middlewares": [] }')], { FORCE_COLOR: '1' });
    expect(forced.stdout).toMatch(ansi);
    const plain = await spawnBin(['config', 'validate', file('colour.json', '{ "middlewares": [] }')], { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(plain.stdout).not.toMatch(ansi);
  });

  it('answers bad input with one line and a non-zero exit, never a stack trace', async () => {
    for (const args of [['get', 'not a url'], ['load', 'http://127.0.0.1:1/', '-n', 'many'], ['frobnicate'], ['get', 'http://127.0.0.1:1/', '--config', join(dir, 'missing.json')], ['post', 'http://127.0.0.1:1/', '--json', '{']]) {
      const result = await spawnBin(args);
      expect(result.code, args.join(' ')).not.toBe(0);
      const lines = result.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(result.stderr).not.toMatch(/^\s+at /m);
    }
  });
});

describe('shallot get|post|...', () => {
  it('prints the body, and with --verbose every attempt and layer with secrets redacted', async () => {
    await using upstream = await createTestServer();
    upstream.route('/items', [{ status: 503, times: 1 }, { json: { items: [1, 2] }, headers: { 'set-cookie': 'session=s3cr3t' } }]);
    const result = await run(['get', `${upstream.url}/items?api_key=k3y&page=2`, '-H', 'Authorization: Bearer t0k3n', '-H', 'X-Trace: on', '--verbose']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ items: [1, 2] });
    expect(upstream.hits('/items')).toBe(2);
    expect(upstream.requests('/items')[0]?.headers.authorization).toBe('Bearer t0k3n');
    const trace = result.stderr;
    expect(trace).toContain('* stack: timeout → retry → undici');
    expect(trace).toMatch(/\* attempt 1 at \+\d+ ms: 503/);
    expect(trace).toMatch(/\* attempt 2 at \+\d+ ms: 200/);
    expect(trace).toMatch(/retry: 2 attempts, waited \d+ ms/);
    expect(trace).toContain('> authorization: [REDACTED]');
    expect(trace).toContain('> x-trace: on');
    expect(trace).toContain('api_key=[REDACTED]&page=2');
    expect(trace).toContain('< set-cookie: [REDACTED]');
    for (const secret of ['t0k3n', 'k3y', 's3cr3t']) expect(trace).not.toContain(secret);
  });

  it('sends --json and --data bodies through the stack of --config', async () => {
    await using upstream = await createTestServer();
    upstream.route('/things', { status: 201, json: { created: true } });
    const config = file('post.json', JSON.stringify({ baseUrl: upstream.url, middlewares: [{ use: 'requestId', header: 'x-correlation-id' }] }));
    const posted = await run(['post', '/things', '--config', config, '--json', '{"name":"leek"}']);
    expect(posted.code).toBe(0);
    const sent = upstream.requests('/things')[0];
    expect(JSON.parse(sent?.body.toString() ?? '')).toEqual({ name: 'leek' });
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['x-correlation-id']).toMatch(/./);
    const put = await run(['put', '/things', '--config', config, '--data', 'plain text']);
    expect(put.code).toBe(0);
    expect(upstream.requests('/things')[1]?.body.toString()).toBe('plain text');
  });

  it('fails with the error code and message when the request fails', async () => {
    const result = await run(['get', 'http://127.0.0.1:1/', '--config', file('once.json', '{ "middlewares": [] }')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^shallot: ERR_NETWORK: GET http:\/\/127\.0\.0\.1:1\/: /);
  });
});

describe('shallot load', () => {
  it('runs a bounded load and reports it as JSON, counting what the layers did', async () => {
    await using upstream = await createTestServer();
    upstream.route('/cached', { json: { ok: true }, headers: { 'cache-control': 'max-age=60' } });
    const config = file('load.json', JSON.stringify({ middlewares: [{ use: 'cache' }, { use: 'retry' }] }));
    const result = await run(['load', `${upstream.url}/cached`, '-n', '200', '-c', '8', '--config', config, '--json']);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ method: 'GET', completed: 200, errors: 0, concurrency: 8, statuses: { 200: 200 }, stoppedBy: 'count' });
    expect(summary.layers.cache.HIT + summary.layers.cache.MISS).toBe(200);
    // Concurrent misses are coalesced into one fetch.
    expect(upstream.hits('/cached')).toBeGreaterThanOrEqual(1);
    expect(upstream.hits('/cached')).toBeLessThanOrEqual(summary.layers.cache.MISS);
    expect(summary.latencyMs.p50).toBeGreaterThan(0);
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p99);
  });

  it('prints a histogram, percentiles and statuses, and writes a self-contained HTML report', async () => {
    await using upstream = await createTestServer();
    upstream.route('/ok', { json: { ok: true } }).route('/bad', { status: 500 });
    const html = join(dir, 'report.html');
    const result = await run(['load', `${upstream.url}/ok`, '-n', '100', '-c', '4', '--html', html]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/ok: 100 requests in [\d.]+ s, \d+ req\/s, 0 errors/);
    expect(result.stdout).toContain('│ █');
    expect(result.stdout).toMatch(/p50.*p90.*p99.*max/);
    expect(result.stdout).toMatch(/│ 200\s+│\s+100 │/);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page.match(/<svg /g)).toHaveLength(2);
    expect(page).not.toMatch(/<script|<link|src=|url\(/);
  });

  it('stops a --duration run on time and reports errors by code', async () => {
    const result = await run(['load', 'http://127.0.0.1:1/', '--duration', '300ms', '-c', '2', '--json', '--config', file('bare.json', '{}')]);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary.stoppedBy).toBe('duration');
    expect(summary.errors).toBe(summary.completed);
    expect(Object.keys(summary.errorCodes)).toEqual(['ERR_NETWORK']);
  });
});

describe('shallot config', () => {
  it('validate names the line, column and path of every problem', async () => {
    const path = file(
      'bad.json',
      `{
  // comments are allowed, as in tsconfig.json
  "transport": { "kind": "undici", "maxSockets": 0 },
  "middlewares": [
    { "use": "timeout", "totalMs": 10000 },
    { "use": "retyr" },
    { "use": "retry", "maxAttempts": 3, "onRetry": "log" },
  ]
}
`,
    );
    const result = await run(['config', 'validate', path]);
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')).toEqual([
      `${path}:3:36: transport.maxSockets: expected a number >= 1, got 0`,
      expect.stringMatching(new RegExp(`^${path}:6:7: middlewares\\[1\\]\\.use: unknown middleware "retyr" \\(did you mean "retry"\\?\\)`)),
      `${path}:7:41: middlewares[2].onRetry: "onRetry" takes a function or an object, which a config file cannot hold: set it in code`,
      `3 problems in ${path}`,
      '',
    ]);
  });

  it('validate reports JSON syntax errors with their line', async () => {
    const result = await run(['config', 'validate', file('syntax.json', '{\n  "middlewares": [\n    { "use": "retry" }\n    { "use": "timeout" }\n  ]\n}\n')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/syntax\.json:4:5: \(syntax\): not valid JSON: CommaExpected/);
  });

  it('validate accepts a good file and says what stack it describes', async () => {
    const result = await run(['config', 'validate', file('good.json', JSON.stringify({ transport: 'node-fetch', middlewares: [{ use: 'timeout', totalMs: 1000 }, { use: 'retry' }] }))]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/valid: .*good\.json: timeout → retry → node-fetch/);
  });

  it("validate imports the config's plugins, so their middlewares validate", async () => {
    file(
      'plugin.mjs',
      `import { z } from 'zod';
export const shallotMiddleware = {
  name: 'pluginStamp',
  schema: z.strictObject({ value: z.string() }),
  factory: () => Object.assign(async (ctx, next) => next(), { layer: { name: 'pluginStamp' } }),
};
`,
    );
    const good = await run(['config', 'validate', file('with-plugin.json', JSON.stringify({ plugins: ['./plugin.mjs'], middlewares: [{ use: 'pluginStamp', value: 'x' }] }))]);
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
    const bad = await run(['config', 'validate', file('with-plugin-bad.json', JSON.stringify({ plugins: ['./plugin.mjs'], middlewares: [{ use: 'pluginStamp' }] }))]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('middlewares[0].value: missing: expected a string');
  });

  it('schema prints the JSON Schema that editors complete config files with', async () => {
    const result = await run(['config', 'schema']);
    expect(result.code).toBe(0);
    const schema = JSON.parse(result.stdout);
    expect(schema.title).toBe('shallot config');
    expect(schema.properties.middlewares.type).toBe('array');
    expect(schema.properties.connectionManager).toMatchObject({ $ref: expect.any(String) });
  });
});
