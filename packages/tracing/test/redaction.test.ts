import type { Logger } from '@shallot/core';
import { isSensitiveKey, REDACTED, redactHeaders, redactingLogger, redactJson, redactText, redactUrl } from '@shallot/tracing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// An independent statement of what must be redacted (the list plus the extra words the
// package documents), so the properties do not test the implementation against itself.
const specWords = /authorization|cookie|token|secret|passw(or)?d|api[-_]?key|session|credential|private[-_]?key|signature|^sig$|^awsaccesskeyid$|[-_.]key$/i;

const randomCase = (word: string) =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((flags) => [...word].map((c, i) => (flags[i] ? c.toUpperCase() : c)).join(''));

const sensitiveWord = fc
  .constantFrom('authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api_key', 'apikey', 'api-key', 'token', 'secret', 'password', 'session')
  .chain(randomCase);
const affix = fc.stringMatching(/^[a-z_-]{0,4}$/);
const sensitiveName = fc.tuple(affix, sensitiveWord, affix).map(([a, w, b]) => `${a}${w}${b}`);
const benignName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/).filter((name) => !specWords.test(name));
/** Every secret carries a marker (QZX) that neither benign data nor key names can contain, so "no secret survives" is checkable. */
const secret = fc.stringMatching(/^[0-9a-f]{6,16}$/).map((hex) => `QZX${hex}`);
const secretValue = fc.oneof(secret, secret.map((s) => `Bearer ${s}`), secret.map((s) => `sid=${s}; theme=dark`), secret.map((s) => `Basic ${s}`));
const benignText = fc.stringMatching(/^[A-Za-z0-9 ]{0,20}$/);

describe('redactHeaders()', () => {
  it('replaces the whole Authorization value (the original leaked "Bearer <token>")', () => {
    expect(redactHeaders({ Authorization: 'Bearer token123' })).toEqual({ authorization: REDACTED });
  });

  it('redacts Proxy-Authorization, Cookie, Set-Cookie, API-key and token headers and keeps the rest', () => {
    const headers = new Headers({
      'proxy-authorization': 'Basic dXNlcjpwYXNz',
      cookie: 'sid=abc; theme=dark',
      'x-api-key': 'k-123',
      'x-auth-token': 't-123',
      'x-session-id': 's-1',
      accept: 'application/json',
      'user-agent': 'shallot',
    });
    headers.append('set-cookie', 'sid=abc; HttpOnly');
    expect(redactHeaders(headers)).toEqual({
      'proxy-authorization': REDACTED,
      cookie: REDACTED,
      'set-cookie': REDACTED,
      'x-api-key': REDACTED,
      'x-auth-token': REDACTED,
      'x-session-id': REDACTED,
      accept: 'application/json',
      'user-agent': 'shallot',
    });
  });

  it("takes node's IncomingHttpHeaders (arrays, numbers) and pairs, and extra keys", () => {
    expect(redactHeaders({ 'set-cookie': ['a=1', 'b=2'], 'content-length': 12, via: ['1.1 a', '1.1 b'] })).toEqual({
      'set-cookie': REDACTED,
      'content-length': '12',
      via: ['1.1 a', '1.1 b'],
    });
    expect(redactHeaders([['X-Tenant', 'acme'], ['Accept', '*/*']], { keys: ['x-tenant'] })).toEqual({ 'x-tenant': REDACTED, accept: '*/*' });
  });

  it('redacts secrets inside the values of other headers (a Referer with a token)', () => {
    expect(redactHeaders({ referer: 'https://app.test/cb?code=1&access_token=abc' })).toEqual({ referer: `https://app.test/cb?code=${REDACTED}&access_token=${REDACTED}` });
  });

  it('property: no secret of a sensitive header survives, benign headers are kept as they were', () => {
    fc.assert(
      fc.property(fc.dictionary(sensitiveName, secretValue, { maxKeys: 6 }), fc.dictionary(benignName, benignText, { maxKeys: 6 }), (sensitive, benign) => {
        const input = new Headers();
        for (const [name, value] of Object.entries(benign)) input.set(name, value.trim());
        for (const [name, value] of Object.entries(sensitive)) input.set(name, value);
        const out = redactHeaders(input);
        expect(JSON.stringify(out)).not.toContain('QZX');
        for (const name of Object.keys(sensitive)) expect(out[name.toLowerCase()]).toBe(REDACTED);
        for (const name of Object.keys(benign)) expect(out[name]).toBe(input.get(name));
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactUrl()', () => {
  it('removes credentials and redacts sensitive query and fragment keys, keeping the rest as written', () => {
    expect(redactUrl('https://bob:hunter2@api.test/v1/items?page=2&api_key=k1&q=a%20b&Signature=s#access_token=t&state=x')).toBe(
      `https://api.test/v1/items?page=2&api_key=${REDACTED}&q=a%20b&Signature=${REDACTED}#access_token=${REDACTED}&state=x`,
    );
    expect(redactUrl(new URL('http://127.0.0.1:8080/a?sig=1&b=2'))).toBe(`http://127.0.0.1:8080/a?sig=${REDACTED}&b=2`);
    expect(redactUrl('https://api.test/a?tenant=acme', { keys: ['tenant'] })).toBe(`https://api.test/a?tenant=${REDACTED}`);
    expect(redactUrl('https://api.test/a?api%5Fkey=k1')).toBe(`https://api.test/a?api%5Fkey=${REDACTED}`);
    expect(redactUrl('https://api.test/#section')).toBe('https://api.test/#section');
  });

  it('treats a string that is not a URL as text', () => {
    expect(redactUrl('not a url, token=abc')).toBe(`not a url, token=${REDACTED}`);
  });

  it('property: no secret in a query or in the user info survives, benign pairs stay in order', () => {
    const pair = fc.oneof(
      fc.tuple(sensitiveWord, secret).map(([k, v]) => ({ k, v, secret: true })),
      fc.tuple(benignName, fc.stringMatching(/^[a-z0-9]{0,8}$/)).map(([k, v]) => ({ k, v, secret: false })),
    );
    fc.assert(
      fc.property(fc.array(pair, { maxLength: 8 }), fc.option(secret, { nil: undefined }), (pairs, password) => {
        const query = pairs.map((p) => `${encodeURIComponent(p.k)}=${p.v}`).join('&');
        const auth = password === undefined ? '' : `user:${password}@`;
        const out = redactUrl(`https://${auth}api.test/path?${query}`);
        expect(out).not.toContain('QZX');
        const kept = pairs.filter((p) => !p.secret).map((p) => `${encodeURIComponent(p.k)}=${p.v}`);
        let from = 0;
        for (const item of kept) {
          const at = out.indexOf(item, from);
          expect(at).toBeGreaterThanOrEqual(0);
          from = at + item.length;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactText()', () => {
  it('redacts header lines, key=value pairs, URLs and bare bearer tokens in free text', () => {
    expect(redactText('Authorization: Bearer token123')).toBe(`Authorization: ${REDACTED}`);
    expect(redactText('cookie: a=1; b=2')).toBe(`cookie: ${REDACTED}`);
    expect(redactText('login failed for password=hunter2 at https://x.test/?token=abc&page=1')).toBe(
      `login failed for password=${REDACTED} at https://x.test/?token=${REDACTED}&page=1`,
    );
    expect(redactText('sent Bearer eyJhbGciOi.x.y to upstream')).toBe(`sent Bearer ${REDACTED} to upstream`);
    expect(redactText('{"client_secret": "abc", "user": "bob"}')).toBe(`{"client_secret": "${REDACTED}", "user": "bob"}`);
    expect(redactText('nothing to hide here')).toBe('nothing to hide here');
  });
});

describe('redactJson()', () => {
  it('replaces the whole value of sensitive keys at any depth and never touches the input', () => {
    const input = {
      user: 'bob',
      auth: { password: 'hunter2', token: { value: 'abc', expires: 3 } },
      items: [{ id: 1, api_key: 'k1' }, { id: 2 }],
      headers: { Authorization: 'Bearer abc', accept: 'json' },
    };
    const copy = structuredClone(input);
    expect(redactJson(input)).toEqual({
      user: 'bob',
      auth: { password: REDACTED, token: REDACTED },
      items: [{ id: 1, api_key: REDACTED }, { id: 2 }],
      headers: { Authorization: REDACTED, accept: 'json' },
    });
    expect(input).toEqual(copy);
  });

  it('redacts JSON held in a string, Headers, URLs, errors and cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const error = Object.assign(new Error('GET https://x.test/?token=abc failed'), { code: 'E1', secret: 's' });
    const out = redactJson({
      body: '{"password":"p","n":1}',
      headers: new Headers({ cookie: 'a=1' }),
      url: new URL('https://u:p@x.test/?session=1'),
      error,
      cyclic,
      bytes: new Uint8Array(4),
    }) as Record<string, unknown>;
    expect(out.body).toBe(`{"password":"${REDACTED}","n":1}`);
    expect(out.headers).toEqual({ cookie: REDACTED });
    expect(out.url).toBe(`https://x.test/?session=${REDACTED}`);
    expect(out.error).toMatchObject({ type: 'Error', message: `GET https://x.test/?token=${REDACTED} failed`, code: 'E1', secret: REDACTED });
    expect(out.cyclic).toEqual({ name: 'loop', self: '[Circular]' });
    expect(out.bytes).toBe('[binary: 4 bytes]');
  });

  it('property: no secret under a sensitive key survives, everything else is kept exactly', () => {
    type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
    const benignLeaf: fc.Arbitrary<Json> = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), benignText);
    const secretLeaf: fc.Arbitrary<Json> = fc.oneof(secret, fc.array(secret, { minLength: 1, maxLength: 3 }), secret.map((s) => ({ inner: s })));
    const { tree } = fc.letrec<{ tree: Json; node: Json }>((tie) => ({
      tree: fc.oneof({ maxDepth: 4 }, benignLeaf, tie('node'), fc.array(tie('tree'), { maxLength: 4 })),
      node: fc
        .tuple(fc.dictionary(benignName, tie('tree'), { maxKeys: 4 }), fc.dictionary(sensitiveName, secretLeaf, { maxKeys: 3 }))
        .map(([benign, sensitive]) => ({ ...benign, ...sensitive })),
    }));
    // The model: sensitive keys' values replaced whole, nothing else changed.
    const model = (value: Json): Json => {
      if (Array.isArray(value)) return value.map(model);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, specWords.test(k) ? REDACTED : model(v)]));
      }
      return value;
    };
    fc.assert(
      fc.property(tree, (input) => {
        const out = redactJson(input);
        expect(JSON.stringify(out) ?? '').not.toContain('QZX');
        expect(out).toEqual(model(input));
      }),
      { numRuns: 300 },
    );
  });
});

describe('isSensitiveKey()', () => {
  it('knows the issue list and leaves ordinary keys alone', () => {
    for (const key of ['Authorization', 'Proxy-Authorization', 'Cookie', 'Set-Cookie', 'X-API-Key', 'apiKey', 'refresh_token', 'client_secret', 'PASSWORD', 'sessionId']) {
      expect(isSensitiveKey(key), key).toBe(true);
    }
    for (const key of ['accept', 'content-type', 'user', 'page', 'id', 'x-request-id', 'traceparent']) expect(isSensitiveKey(key), key).toBe(false);
    expect(isSensitiveKey('x-tenant', { keys: [/tenant/] })).toBe(true);
  });
});

describe('redactingLogger()', () => {
  function capture() {
    const lines: unknown[][] = [];
    const make = (bindings: object): Logger & { level: string; flush(): string } => ({
      level: 'debug',
      flush: () => 'flushed',
      trace: (...args: unknown[]) => lines.push(['trace', bindings, ...args]),
      debug: (...args: unknown[]) => lines.push(['debug', bindings, ...args]),
      info: (...args: unknown[]) => lines.push(['info', bindings, ...args]),
      warn: (...args: unknown[]) => lines.push(['warn', bindings, ...args]),
      error: (...args: unknown[]) => lines.push(['error', bindings, ...args]),
      child: (more: object) => make({ ...bindings, ...more }),
    });
    return { lines, logger: make({}) };
  }

  it('redacts fields, messages and child bindings, and keeps the rest of the logger', () => {
    const { lines, logger } = capture();
    const log = redactingLogger(logger);
    log.info({ headers: { authorization: 'Bearer abc' }, url: 'https://x.test/?token=t1' }, 'calling with Authorization: Bearer abc');
    // pino's printf form: extra arguments after the message.
    const warn = log.child?.({ apiKey: 'k1', service: 'orders' }).warn as (...args: unknown[]) => void;
    warn('retrying %s', 'https://x.test/?password=p1');
    expect(lines).toEqual([
      ['info', {}, { headers: { authorization: REDACTED }, url: `https://x.test/?token=${REDACTED}` }, `calling with Authorization: ${REDACTED}`],
      ['warn', { apiKey: REDACTED, service: 'orders' }, 'retrying %s', `https://x.test/?password=${REDACTED}`],
    ]);
    expect(log.level).toBe('debug');
    expect(log.flush()).toBe('flushed');
  });

  it('property: nothing a caller logs under a sensitive key reaches the sink', () => {
    const { lines, logger } = capture();
    const log = redactingLogger(logger);
    fc.assert(
      fc.property(fc.dictionary(sensitiveName, secretValue, { minKeys: 1, maxKeys: 4 }), fc.dictionary(benignName, benignText, { maxKeys: 4 }), (sensitive, benign) => {
        lines.length = 0;
        log.debug({ ...benign, request: { headers: sensitive } }, 'request');
        log.child?.(sensitive).info(benign);
        expect(JSON.stringify(lines)).not.toContain('QZX');
      }),
      { numRuns: 200 },
    );
  });
});
