import { type BaseContext, compose, defaultCredentialHeaders, isInvalidOptionsError, REDACTED, redactHeaders, redactJson, redactText, redactUrl, requestCredentials, type Transport } from '@shallot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Generated secrets start with SEC and use characters no generated non-secret part has (those
// are lower-case), so "the secret is not in the output" can only fail by a real leak.
const secret = fc.stringMatching(/^[A-Za-z0-9._~-]{8,24}$/).map((s) => `SEC${s}`);
const plain = fc.stringMatching(/^[a-z0-9]{0,8}$/);
const label = fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/);

/** Query keys that carry secrets, in any case. */
const sensitiveQueryKey = fc
  .constantFrom('token', 'access_token', 'refresh_token', 'id_token', 'api_key', 'apikey', 'api-key', 'key', 'code', 'password', 'passwd', 'pwd', 'pass', 'secret', 'client_secret', 'jwt', 'auth', 'sid', 'otp', 'session', 'sessionid', 'signature', 'sig', 'x-goog-signature', 'awsaccesskeyid', 'private_key', 'credential')
  .chain((key) => fc.constantFrom(key, key.toUpperCase(), key[0]?.toUpperCase() + key.slice(1)));
/** Keys that are not secret: kept as they were written. */
const plainQueryKey = fc.constantFrom('page', 'q', 'limit', 'sort', 'lang', 'view', 'filter', 'cursor');

const urlParts = fc.record({
  scheme: fc.constantFrom('http', 'https'),
  host: fc.tuple(label, fc.constantFrom('test', 'example', 'internal')).map(([a, b]) => `${a}.${b}`),
  port: fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
  path: fc.array(plain, { maxLength: 3 }).map((segments) => `/${segments.join('/')}`),
  secrets: fc.array(fc.tuple(sensitiveQueryKey, secret), { minLength: 1, maxLength: 5 }),
  plains: fc.array(fc.tuple(plainQueryKey, plain), { maxLength: 4 }),
  userinfo: fc.option(fc.tuple(label, secret), { nil: undefined }),
  fragmentSecret: fc.option(secret, { nil: undefined }),
});

type UrlParts = typeof urlParts extends fc.Arbitrary<infer T> ? T : never;

function buildUrl(p: UrlParts): string {
  const pairs = [...p.secrets, ...p.plains].sort((a, b) => (a[1] < b[1] ? -1 : 1));
  const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const auth = p.userinfo === undefined ? '' : `${p.userinfo[0]}:${encodeURIComponent(p.userinfo[1])}@`;
  const port = p.port === undefined ? '' : `:${p.port}`;
  const fragment = p.fragmentSecret === undefined ? '' : `#access_token=${encodeURIComponent(p.fragmentSecret)}&state=xyz`;
  return `${p.scheme}://${auth}${p.host}${port}${p.path}?${query}${fragment}`;
}

function secretsOf(p: UrlParts): string[] {
  const all = [...p.secrets.map(([, v]) => v), ...(p.userinfo === undefined ? [] : [p.userinfo[1]]), ...(p.fragmentSecret === undefined ? [] : [p.fragmentSecret])];
  return all.flatMap((s) => [s, encodeURIComponent(s)]);
}

describe('redactUrl (property)', () => {
  it('leaves no secret value, query, fragment or user info, and keeps every other part', () => {
    fc.assert(
      fc.property(urlParts, (p) => {
        const input = buildUrl(p);
        const out = redactUrl(input);
        for (const s of secretsOf(p)) expect(out).not.toContain(s);
        const parsed = new URL(out);
        const original = new URL(input);
        expect(parsed.host).toBe(original.host);
        expect(parsed.pathname).toBe(original.pathname);
        expect(parsed.username).toBe('');
        expect(parsed.password).toBe('');
        for (const [k, v] of p.plains) expect(out).toContain(`${k}=${v}`);
        for (const [k] of p.secrets) expect(out).toContain(`${encodeURIComponent(k)}=${REDACTED}`);
        // Redacting what is already redacted changes nothing.
        expect(redactUrl(out)).toBe(out);
        // A URL object gives the same as its string.
        expect(redactUrl(new URL(input))).toBe(out);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactText (property)', () => {
  const filler = fc.array(fc.constantFrom('request', 'failed', 'after', 'retry', 'the', 'upstream', 'said', 'status', '503', 'GET'), { minLength: 1, maxLength: 6 });
  const secretPhrase = fc.oneof(
    urlParts.map((p) => ({ text: buildUrl(p), secrets: secretsOf(p) })),
    fc.tuple(fc.constantFrom('password', 'api_key', 'token', 'client_secret', 'X-API-Key', 'sessionId'), fc.constantFrom('=', ': ', ' = '), secret).map(([k, sep, s]) => ({ text: `${k}${sep}${s}`, secrets: [s] })),
    // A header line's value runs to the end of its line, so it is redacted to there: end it with one.
    fc.tuple(fc.constantFrom('Authorization', 'Proxy-Authorization', 'authorization'), fc.constantFrom('Bearer', 'Basic', 'Digest'), secret).map(([h, scheme, s]) => ({ text: `${h}: ${scheme} ${s}\n`, secrets: [s] })),
    fc.tuple(fc.constantFrom('Bearer', 'Basic'), secret).map(([scheme, s]) => ({ text: `sent ${scheme} ${s} upstream`, secrets: [s] })),
    fc.tuple(fc.constantFrom('password', 'access_token', 'apiKey', 'secret'), secret).map(([k, s]) => ({ text: `{"${k}":"${s}","page":2}`, secrets: [s] })),
    fc.tuple(fc.constantFrom('Cookie', 'Set-Cookie'), secret).map(([h, s]) => ({ text: `${h}: sid=${s}; Path=/\n`, secrets: [s] })),
  );

  it('leaves no secret in a message mixing URLs, key=value pairs, headers and JSON, and keeps the words around them', () => {
    fc.assert(
      fc.property(filler, fc.array(secretPhrase, { minLength: 1, maxLength: 4 }), filler, fc.constantFrom(' ', '\n', ', '), (before, phrases, after, sep) => {
        const text = [...before, ...phrases.map((p) => p.text), ...after].join(sep);
        const out = redactText(text);
        for (const phrase of phrases) for (const s of phrase.secrets) expect(out).not.toContain(s);
        for (const word of [...before, ...after]) expect(out).toContain(word);
        expect(redactText(out)).toBe(out);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactHeaders (property)', () => {
  const credentialName = fc.constantFrom(...defaultCredentialHeaders, 'set-cookie', 'x-refresh-token', 'x-client-secret', 'x-session-id').chain((name) => fc.constantFrom(name, name.toUpperCase()));
  const plainName = fc.constantFrom('accept', 'content-type', 'x-request-id', 'user-agent', 'x-trace', 'cache-control');
  const plainValue = fc.stringMatching(/^[a-z0-9/.;-]{0,16}$/);
  const headerSet = fc.record({
    secret: fc.uniqueArray(fc.tuple(credentialName, secret), { minLength: 1, maxLength: 6, selector: ([n]) => n.toLowerCase() }),
    plain: fc.uniqueArray(fc.tuple(plainName, plainValue), { maxLength: 4, selector: ([n]) => n }),
  });

  it('replaces every credential header whole, keeps the others byte for byte, whatever the input shape', () => {
    fc.assert(
      fc.property(headerSet, fc.constantFrom('Headers', 'record', 'pairs'), (set, shape) => {
        const pairs = [...set.secret, ...set.plain];
        const input = shape === 'Headers' ? new Headers(pairs) : shape === 'record' ? Object.fromEntries(pairs) : pairs;
        const out = redactHeaders(input);
        const json = JSON.stringify(out);
        for (const [name, value] of set.secret) {
          expect(out[name.toLowerCase()]).toBe(REDACTED);
          expect(json).not.toContain(value);
        }
        for (const [name, value] of set.plain) expect(out[name]).toBe(value);
      }),
      { numRuns: 300 },
    );
  });
});

describe('requestCredentials (property)', () => {
  const extraName = fc.stringMatching(/^x-[a-z][a-z0-9-]{0,10}$/);
  const nonCredential = fc.constantFrom('accept', 'x-request-id', 'x-tenant', 'content-language');

  it('are exactly the request headers in the built-in list plus the client\'s credentialHeaders, sorted by name', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(extraName, { maxLength: 3 }),
        fc.uniqueArray(fc.oneof(fc.constantFrom(...defaultCredentialHeaders), extraName, nonCredential), { minLength: 1, maxLength: 8 }),
        fc.array(secret, { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        async (extra, present, values, upper) => {
          let seen: Array<[string, string]> = [];
          const transport: Transport = {
            name: 'capture',
            send: async (ctx: BaseContext) => {
              seen = requestCredentials(ctx);
              return new Response('ok');
            },
            close: async () => {},
          };
          const client = compose().build({ transport, credentialHeaders: extra.map((n) => (upper ? n.toUpperCase() : n)) });
          const headers = Object.fromEntries(present.map((name, i) => [upper ? name.toUpperCase() : name, values[i] as string]));
          await (await client.get('http://api.test/x', { headers })).text();
          await client.close();
          const known = new Set([...defaultCredentialHeaders, ...extra]);
          const expected = present
            .map((name, i): [string, string] => [name, values[i] as string])
            .filter(([name]) => known.has(name))
            .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('redactJson never throws (property)', () => {
  it('prints whatever it is given: maps keyed by objects without a string form, throwing getters and toJSON, revoked proxies', () => {
    // A Map keyed by a null-prototype object made an options error a TypeError, and would have
    // made a log line throw (found by the option-schema property test).
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const hostile = [
      new Map([[Object.create(null), 'x']]),
      { get boom(): never { throw new Error('getter'); } },
      { toJSON(): never { throw new Error('toJSON'); } },
      proxy,
      { nested: { deeper: proxy, password: 'SECsecretvalue1' } },
    ];
    for (const value of hostile) expect(() => redactJson(value)).not.toThrow();
    expect(JSON.stringify(redactJson({ nested: { password: 'SECsecretvalue1' }, map: new Map([[Object.create(null), 1]]) }))).not.toContain('SECsecretvalue1');
    fc.assert(
      fc.property(fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true }), (value) => {
        expect(() => redactJson(value)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('an option given such a value is still refused with InvalidOptionsError naming it', () => {
    let error: unknown;
    try {
      compose().build({ timeoutMs: new Map([[Object.create(null), 1]]) as never });
    } catch (caught) {
      error = caught;
    }
    expect(isInvalidOptionsError(error)).toBe(true);
    expect((error as Error).message).toMatch(/^build\.timeoutMs: expected a number/);
  });
});
