import { createEndpointMatcher, endpointPatternProblem } from '@shallot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// A small universe so that patterns and URLs meet often: hosts a.test, b.a.test, c.b.a.test...
const host = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }).map((labels) => `${labels.join('.')}.test`);
const path = fc.constantFrom('/', '/v1', '/v1/', '/v1/items', '/v1beta', '/v2/items/3');

interface Model {
  readonly text: string;
  readonly kind: 'prefix' | 'host-port' | 'host' | 'wildcard';
  readonly host: string;
  readonly port: string | undefined;
  readonly scheme: string | undefined;
  readonly path: string;
}

const hostPattern = fc.record({ host, port: fc.option(fc.constantFrom('80', '443', '8443'), { nil: undefined }), wildcard: fc.boolean() }).map(
  (p): Model => ({
    text: `${p.wildcard ? '*.' : ''}${p.host}${p.port === undefined ? '' : `:${p.port}`}`,
    kind: p.wildcard ? 'wildcard' : p.port === undefined ? 'host' : 'host-port',
    host: p.host,
    port: p.port,
    scheme: undefined,
    path: '',
  }),
);

const prefixPattern = fc
  .record({ scheme: fc.option(fc.constantFrom('http', 'https'), { nil: undefined }), host, port: fc.option(fc.constant('8443'), { nil: undefined }), path: path.filter((p) => p !== '/') })
  .map(
    (p): Model => ({
      text: `${p.scheme === undefined ? '' : `${p.scheme}://`}${p.host}${p.port === undefined ? '' : `:${p.port}`}${p.path}`,
      kind: 'prefix',
      host: p.host,
      // With a scheme, a prefix without a port means the scheme's default one.
      port: p.port ?? (p.scheme === undefined ? undefined : p.scheme === 'http' ? '80' : '443'),
      scheme: p.scheme,
      path: p.path,
    }),
  );

const target = fc.record({ scheme: fc.constantFrom('http', 'https'), host, port: fc.option(fc.constantFrom('80', '443', '8443'), { nil: undefined }), path });

const effectivePort = (url: URL): string => url.port || (url.protocol === 'http:' ? '80' : '443');
const pathCovers = (prefix: string, p: string): boolean => (prefix.endsWith('/') ? p.startsWith(prefix) : p === prefix || p.startsWith(`${prefix}/`));

function covers(m: Model, url: URL): boolean {
  const port = effectivePort(url);
  switch (m.kind) {
    case 'host':
      return url.hostname === m.host;
    case 'host-port':
      return url.hostname === m.host && port === m.port;
    case 'wildcard':
      return url.hostname.endsWith(`.${m.host}`) && (m.port === undefined || port === m.port);
    case 'prefix':
      return (m.scheme === undefined || url.protocol === `${m.scheme}:`) && url.hostname === m.host && (m.port === undefined || port === m.port) && pathCovers(m.path, url.pathname);
  }
}

const rank = { prefix: 0, 'host-port': 1, host: 2, wildcard: 3 } as const;

/** The documented order, as a key: lower is more specific. Patterns with equal keys tie. */
function specificity(m: Model): number[] {
  if (m.kind === 'prefix') return [rank.prefix, -m.path.length, m.scheme === undefined ? 1 : 0, m.port === undefined ? 1 : 0];
  if (m.kind === 'wildcard') return [rank.wildcard, -m.host.length, m.port === undefined ? 1 : 0, 0];
  return [rank[m.kind], 0, 0, 0];
}

const compare = (a: number[], b: number[]): number => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
};

describe('endpoint patterns (property)', () => {
  it('the matcher answers the most specific covering pattern (prefix, host:port, host, wildcard), whatever the query says', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(hostPattern, prefixPattern), { minLength: 1, maxLength: 8, selector: (m) => m.text }), target, (models, t) => {
        const matcher = createEndpointMatcher(models.map((m) => m.text));
        const href = `${t.scheme}://${t.host}${t.port === undefined ? '' : `:${t.port}`}${t.path}`;
        const url = new URL(href);
        const covering = models.filter((m) => covers(m, url)).sort((a, b) => compare(specificity(a), specificity(b)));
        const got = matcher.match(url);
        if (covering.length === 0) expect(got).toBeUndefined();
        else {
          const best = covering.filter((m) => compare(specificity(m), specificity(covering[0] as Model)) === 0).map((m) => m.text);
          expect(best).toContain(got);
        }
        // The query and fragment never count: naming another pattern's host there changes nothing.
        const decoy = new URL(`${href}?next=${encodeURIComponent(models[0]?.text ?? '')}&host=c.b.a.test#a.test`);
        expect(matcher.match(decoy)).toBe(got);
      }),
      { numRuns: 500 },
    );
  });

  it('a pattern with a query, a fragment, credentials or another scheme is refused, saying why', () => {
    const bad = fc.oneof(
      host.map((h) => `${h}?x=1`),
      host.map((h) => `https://${h}/v1#frag`),
      host.map((h) => `https://user:pw@${h}/`),
      host.map((h) => `ftp://${h}/`),
      host.map((h) => `${h}:99999`),
      fc.constantFrom('', '   ', 'a b.test', '*.'),
    );
    fc.assert(
      fc.property(bad, (pattern) => {
        const problem = endpointPatternProblem(pattern);
        expect(problem, pattern).toBeDefined();
        expect(problem).toContain('is not an endpoint pattern');
        expect(() => createEndpointMatcher([pattern])).toThrow(TypeError);
      }),
      { numRuns: 200 },
    );
  });
});
