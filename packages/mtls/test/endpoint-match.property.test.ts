import { compose, isInvalidOptionsError } from '@shallot/core';
import { tls } from '@shallot/mtls';
import { mockTransport } from '@shallot/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// Hosts are drawn from a small universe so that patterns and URLs meet often: labels a-c under
// test, one to three deep (a.test, b.a.test, c.b.a.test...).
const label = fc.constantFrom('a', 'b', 'c');
const host = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => `${labels.join('.')}.test`);
const port = fc.constantFrom(443, 8443);

interface Pattern {
  readonly text: string;
  readonly host: string;
  readonly wildcard: boolean;
  readonly port: number | undefined;
}

const pattern = fc.record({ host, wildcard: fc.boolean(), port: fc.option(port, { nil: undefined }), upper: fc.boolean() }).map(
  (p): Pattern => {
    const name = p.upper ? p.host.toUpperCase() : p.host;
    return { text: `${p.wildcard ? '*.' : ''}${name}${p.port === undefined ? '' : `:${p.port}`}`, host: p.host, wildcard: p.wildcard, port: p.port };
  },
);

/** The documented rule: host:port, then host, then wildcards by the longest suffix (with a port before without). */
function expected(patterns: readonly Pattern[], urlHost: string, urlPort: number): string | undefined {
  const exact = (withPort: boolean) => patterns.find((p) => !p.wildcard && p.host === urlHost && (withPort ? p.port === urlPort : p.port === undefined));
  const found = exact(true) ?? exact(false);
  if (found !== undefined) return found.text;
  const wildcards = patterns
    .filter((p) => p.wildcard && urlHost.endsWith(`.${p.host}`) && (p.port === undefined || p.port === urlPort))
    .sort((x, y) => y.host.length - x.host.length || Number(y.port !== undefined) - Number(x.port !== undefined));
  return wildcards[0]?.text;
}

describe('tls endpoint patterns (property)', () => {
  it('a request gets the settings of the most specific matching pattern, else the default ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(pattern, { minLength: 1, maxLength: 6, selector: (p) => p.text.toLowerCase() }),
        host,
        port,
        async (patterns, urlHost, urlPort) => {
          // Each pattern's settings carry its own servername, so the one a request got is visible.
          const endpoints = Object.fromEntries(patterns.map((p, i) => [p.text, { servername: `endpoint-${i}.test` }]));
          const client = compose().use(tls({ servername: 'default.test', endpoints })).build({ transport: mockTransport() });
          const { context } = await client.exchange('GET', `https://${urlHost}:${urlPort}/x`);
          await client.close();
          const want = expected(patterns, urlHost, urlPort);
          const index = patterns.findIndex((p) => p.text === want);
          expect(context.tls?.servername).toBe(want === undefined ? 'default.test' : `endpoint-${index}.test`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a pattern with a scheme, a path or a bad character, naming tls.endpoints', () => {
    const bad = fc.oneof(
      host.map((h) => `https://${h}`),
      host.map((h) => `${h}/path`),
      fc.tuple(host, fc.constantFrom(' ', '?', '#', '@', '*')).map(([h, c]) => `${h}${c}x`),
      host.map((h) => `*${h}`),
      fc.constantFrom('__proto__', 'constructor', 'prototype'),
    );
    fc.assert(
      fc.property(bad, (text) => {
        let error: unknown;
        try {
          tls({ endpoints: JSON.parse(`{${JSON.stringify(text)}: {}}`) as Record<string, object> });
        } catch (caught) {
          error = caught;
        }
        expect(isInvalidOptionsError(error), text).toBe(true);
        expect((error as Error).message).toMatch(/^tls\.endpoints/);
      }),
      { numRuns: 200 },
    );
  });
});
