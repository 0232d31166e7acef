import { compileEndpointPattern, createEndpointMatcher, endpointPatternProblem, matchEndpoint } from '@shallot/core';
import { describe, expect, it } from 'vitest';

const url = (href: string) => new URL(href);

describe('endpoint patterns', () => {
  it('a host covers every port and scheme of that host, and nothing else', () => {
    const p = compileEndpointPattern('API.Example.com');
    expect(p.kind).toBe('host');
    expect(p.matches(url('https://api.example.com/a'))).toBe(true);
    expect(p.matches(url('http://api.example.com:8080/'))).toBe(true);
    expect(p.matches(url('https://example.com/'))).toBe(false);
    expect(p.matches(url('https://xapi.example.com/'))).toBe(false);
  });

  it('a query string never matches (the original matched the pattern as a substring of the whole URL)', () => {
    expect(matchEndpoint(['example.com'], 'https://other.org/?next=example.com')).toBeUndefined();
    expect(matchEndpoint(['example.com'], 'https://other.org/example.com/x')).toBeUndefined();
    expect(matchEndpoint(['https://example.com/v1/'], 'https://other.org/?u=https://example.com/v1/')).toBeUndefined();
    expect(endpointPatternProblem('example.com/?a=1')).toMatch(/never the query/);
    expect(endpointPatternProblem('example.com?a=1')).toMatch(/never the query/);
  });

  it('host:port uses the scheme default when the URL has no port', () => {
    const p = compileEndpointPattern('example.com:443');
    expect(p.kind).toBe('host-port');
    expect(p.matches(url('https://example.com/'))).toBe(true);
    expect(p.matches(url('http://example.com/'))).toBe(false);
    expect(p.matches(url('http://example.com:443/'))).toBe(true);
  });

  it('a wildcard covers subdomains, not the apex', () => {
    const p = compileEndpointPattern('*.example.com');
    expect(p.matches(url('https://a.example.com/'))).toBe(true);
    expect(p.matches(url('https://a.b.example.com/'))).toBe(true);
    expect(p.matches(url('https://example.com/'))).toBe(false);
    expect(p.matches(url('https://badexample.com/'))).toBe(false);
  });

  it('a URL prefix covers its path and below, at a segment boundary', () => {
    const p = compileEndpointPattern('https://api.example.com/v1');
    expect(p.kind).toBe('prefix');
    expect(p.matches(url('https://api.example.com/v1'))).toBe(true);
    expect(p.matches(url('https://api.example.com/v1/items?x=1'))).toBe(true);
    expect(p.matches(url('https://api.example.com/v1beta'))).toBe(false);
    expect(p.matches(url('http://api.example.com/v1'))).toBe(false);
    expect(p.matches(url('https://api.example.com:8443/v1'))).toBe(false);
    // Without a scheme: either scheme.
    const any = compileEndpointPattern('api.example.com/v1/');
    expect(any.matches(url('http://api.example.com:8080/v1/a'))).toBe(true);
    expect(any.matches(url('https://api.example.com/v2/a'))).toBe(false);
  });

  it('the most specific match wins: URL prefix > host:port > host > wildcard, whatever the order given', () => {
    const matcher = createEndpointMatcher(['*.example.com', '*.api.example.com', 'api.example.com', 'api.example.com:8443', 'https://api.example.com/v2/', 'https://api.example.com/v2/admin/']);
    expect(matcher.match(url('https://api.example.com/v2/admin/users'))).toBe('https://api.example.com/v2/admin/');
    expect(matcher.match(url('https://api.example.com/v2/items'))).toBe('https://api.example.com/v2/');
    expect(matcher.match(url('https://api.example.com:8443/v2/items'))).toBe('api.example.com:8443');
    expect(matcher.match(url('https://api.example.com/v1'))).toBe('api.example.com');
    expect(matcher.match(url('https://eu.api.example.com/'))).toBe('*.api.example.com');
    expect(matcher.match(url('https://www.example.com/'))).toBe('*.example.com');
    expect(matcher.match(url('https://example.org/'))).toBeUndefined();
  });

  it('IPv6 hosts are written in brackets', () => {
    expect(matchEndpoint(['[::1]:8080'], 'http://[::1]:8080/a')).toBe('[::1]:8080');
    expect(matchEndpoint(['[::1]'], 'http://[::1]:9/a')).toBe('[::1]');
  });

  it('refuses what is not a pattern, saying why', () => {
    expect(() => compileEndpointPattern('')).toThrow(/is empty/);
    expect(() => compileEndpointPattern('ftp://example.com/')).toThrow(/not http or https/);
    expect(() => compileEndpointPattern('https://u:p@example.com/')).toThrow(/credentials/);
    expect(() => compileEndpointPattern('exa mple.com')).toThrow(/not a host name/);
    expect(() => compileEndpointPattern('example.com:99999')).toThrow(/out of range/);
    expect(endpointPatternProblem('*.example.com:8443')).toBeUndefined();
  });
});
