/**
 * Endpoint patterns: how a layer that is configured per endpoint (auth, a ConnectionManager's
 * per-endpoint breaker, limiter and timeouts) decides which configuration a request URL gets.
 * The rules are the same everywhere, so two layers never disagree about what `api.example.com`
 * covers.
 */

/** What kind of pattern it is, most specific first. */
export type EndpointPatternKind = 'prefix' | 'host-port' | 'host' | 'wildcard';

/** A compiled endpoint pattern. */
export interface EndpointPattern {
  /** The pattern as written. */
  readonly pattern: string;
  /** `prefix` (a URL prefix), `host-port`, `host` or `wildcard` (`*.example.com`). */
  readonly kind: EndpointPatternKind;
  /** True when `url` is covered by this pattern. */
  matches(url: URL): boolean;
}

/** Finds the most specific pattern that covers a URL. */
export interface EndpointMatcher {
  /** The patterns, as written. */
  readonly patterns: readonly string[];
  /** The most specific pattern covering `url`, or `undefined` when none does. */
  match(url: URL): string | undefined;
}

const hostPattern = /^(?:(\*\.)?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)|(\[[0-9A-Fa-f:.]+\]))(?::(\d{1,5}))?$/;

interface Compiled extends EndpointPattern {
  /** Lower-case host (IPv6 in brackets), without `*.` for a wildcard; `undefined` never. */
  readonly host: string;
  /** The port, or `undefined` for any port. */
  readonly port: string | undefined;
  /** For a prefix: the scheme (`https:`), or `undefined` for any scheme. */
  readonly protocol: string | undefined;
  /** For a prefix: the path it starts with. */
  readonly path: string;
}

function effectivePort(url: URL): string {
  if (url.port !== '') return url.port;
  return url.protocol === 'http:' ? '80' : url.protocol === 'https:' ? '443' : '';
}

/** Normalises a host the way the URL parser does (lower case, punycode). */
function normalHost(host: string): string {
  return new URL(`http://${host}/`).hostname;
}

function pathCovers(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  if (prefix.endsWith('/')) return path.startsWith(prefix);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function problem(pattern: string, reason: string): TypeError {
  return new TypeError(
    `${JSON.stringify(pattern)} is not an endpoint pattern: ${reason}; expected 'host', 'host:port', '*.example.com' or a URL prefix such as 'https://api.example.com/v1/'`,
  );
}

function compilePrefix(pattern: string): Compiled {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(pattern);
  let url: URL;
  try {
    url = new URL(withScheme ? pattern : `http://${pattern}`);
  } catch {
    throw problem(pattern, 'it does not parse as a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw problem(pattern, `the scheme ${url.protocol} is not http or https`);
  if (url.search !== '' || url.hash !== '' || pattern.includes('?') || pattern.includes('#')) {
    throw problem(pattern, 'it has a query or a fragment (a pattern matches the host and the path, never the query)');
  }
  if (url.username !== '' || url.password !== '') throw problem(pattern, 'it carries credentials');
  const protocol = withScheme ? url.protocol : undefined;
  const port = url.port === '' ? (withScheme ? effectivePort(url) : undefined) : url.port;
  const host = url.hostname;
  const path = url.pathname;
  return {
    pattern,
    kind: 'prefix',
    host,
    port,
    protocol,
    path,
    matches: (target) =>
      (protocol === undefined || target.protocol === protocol) &&
      target.hostname === host &&
      (port === undefined || effectivePort(target) === port) &&
      pathCovers(path, target.pathname),
  };
}

function compile(pattern: string): Compiled {
  if (typeof pattern !== 'string' || pattern.trim() === '') throw problem(String(pattern), 'it is empty');
  if (pattern.includes('/')) return compilePrefix(pattern);
  if (pattern.includes('?') || pattern.includes('#')) {
    throw problem(pattern, 'it has a query or a fragment (a pattern matches the host and the path, never the query)');
  }
  const m = hostPattern.exec(pattern);
  if (m === null) throw problem(pattern, 'it is not a host name');
  const wildcard = m[1] !== undefined;
  const port = m[4];
  if (port !== undefined && Number(port) > 65_535) throw problem(pattern, `the port ${port} is out of range`);
  const host = m[3] !== undefined ? normalHost(m[3]) : normalHost(m[2] as string);
  if (wildcard) {
    const suffix = `.${host}`;
    return {
      pattern,
      kind: 'wildcard',
      host,
      port,
      protocol: undefined,
      path: '',
      matches: (url) => url.hostname.endsWith(suffix) && (port === undefined || effectivePort(url) === port),
    };
  }
  return {
    pattern,
    kind: port === undefined ? 'host' : 'host-port',
    host,
    port,
    protocol: undefined,
    path: '',
    matches: (url) => url.hostname === host && (port === undefined || effectivePort(url) === port),
  };
}

/**
 * Compiles one endpoint pattern. Patterns are:
 * - `host` (`api.example.com`): every URL on that host, any port and scheme;
 * - `host:port` (`api.example.com:8443`): that host on that port (a URL without a port has its
 *   scheme's default, 80 or 443);
 * - `*.example.com`: every subdomain of example.com (not example.com itself), optionally with
 *   `:port`;
 * - a URL prefix (`https://api.example.com/v1/`, or without the scheme `api.example.com/v1/`):
 *   URLs whose scheme, host, port and path start with it. A path that does not end with `/`
 *   covers itself and what is below it (`/v1` covers `/v1` and `/v1/items`, not `/v1beta`).
 *
 * A pattern never looks at the query or the fragment: `https://other.org/?next=example.com` is
 * not covered by `example.com`. A pattern with a query, a fragment, credentials or a scheme
 * other than http(s) is refused with a `TypeError` saying why.
 *
 * @example
 * compileEndpointPattern('*.example.com').matches(new URL('https://api.example.com/a')) // true
 */
export function compileEndpointPattern(pattern: string): EndpointPattern {
  const { kind, matches } = compile(pattern);
  return { pattern, kind, matches };
}

/** Why `pattern` is not an endpoint pattern, or `undefined` when it is one. For option schemas. */
export function endpointPatternProblem(pattern: string): string | undefined {
  try {
    compile(pattern);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

const kindRank: Record<EndpointPatternKind, number> = { prefix: 0, 'host-port': 1, host: 2, wildcard: 3 };

/** Orders compiled patterns most specific first. */
function bySpecificity(a: Compiled, b: Compiled): number {
  if (a.kind !== b.kind) return kindRank[a.kind] - kindRank[b.kind];
  if (a.kind === 'prefix') {
    // A longer path is more specific; then one that names the scheme, then the port.
    return b.path.length - a.path.length || Number(b.protocol !== undefined) - Number(a.protocol !== undefined) || Number(b.port !== undefined) - Number(a.port !== undefined);
  }
  // Wildcards: the longest domain first, with a port before without.
  return b.host.length - a.host.length || Number(b.port !== undefined) - Number(a.port !== undefined);
}

/**
 * Compiles patterns into a matcher that finds the most specific pattern covering a URL: a URL
 * prefix (the longest path first), then `host:port`, then `host`, then wildcards (the longest
 * domain first). Exact hosts are found with one map lookup, so a long list costs little. Throws
 * a `TypeError` naming the first pattern that is not one.
 *
 * @example
 * const matcher = createEndpointMatcher(['example.com', 'example.com:8443', 'https://example.com/v2/']);
 * matcher.match(new URL('https://example.com/v2/items')) // 'https://example.com/v2/'
 * matcher.match(new URL('https://example.com:8443/'))    // 'example.com:8443'
 * matcher.match(new URL('https://other.org/?next=example.com')) // undefined
 */
export function createEndpointMatcher(patterns: Iterable<string>): EndpointMatcher {
  const all = [...new Set(patterns)];
  const compiled = all.map(compile);
  const prefixes = compiled.filter((p) => p.kind === 'prefix').sort(bySpecificity);
  const wildcards = compiled.filter((p) => p.kind === 'wildcard').sort(bySpecificity);
  const exact = new Map<string, string>();
  for (const p of compiled) {
    if (p.kind === 'host') exact.set(p.host, p.pattern);
    else if (p.kind === 'host-port') exact.set(`${p.host} ${p.port}`, p.pattern);
  }
  if (all.length === 0) return { patterns: all, match: () => undefined };
  return {
    patterns: all,
    match(url) {
      for (const p of prefixes) if (p.matches(url)) return p.pattern;
      if (exact.size > 0) {
        const host = url.hostname;
        const found = exact.get(`${host} ${effectivePort(url)}`) ?? exact.get(host);
        if (found !== undefined) return found;
      }
      for (const p of wildcards) if (p.matches(url)) return p.pattern;
      return undefined;
    },
  };
}

/**
 * The most specific of `patterns` that covers `url`, or `undefined`. Compiles the patterns on
 * every call: keep a {@link createEndpointMatcher} for repeated use.
 *
 * @example
 * matchEndpoint(['example.com', '*.example.com'], 'https://api.example.com/') // '*.example.com'
 */
export function matchEndpoint(patterns: Iterable<string>, url: URL | string): string | undefined {
  return createEndpointMatcher(patterns).match(typeof url === 'string' ? new URL(url) : url);
}
