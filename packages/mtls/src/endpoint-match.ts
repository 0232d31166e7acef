interface Pattern {
  readonly pattern: string;
  /** Host, lower-case, without the `*.`; IPv6 without brackets. */
  readonly host: string;
  readonly wildcard: boolean;
  /** The port, or `undefined` for any port. */
  readonly port: string | undefined;
}

function parse(pattern: string): Pattern {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(pattern);
  let host = (match?.[1] ?? pattern).toLowerCase();
  const wildcard = host.startsWith('*.');
  if (wildcard) host = host.slice(2);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { pattern, host, wildcard, port: match?.[2] };
}

function defaultPort(url: URL): string {
  if (url.port !== '') return url.port;
  return url.protocol === 'http:' ? '80' : '443';
}

/**
 * Compiles endpoint patterns into a lookup from a URL to the most specific matching pattern:
 * `host:port`, then `host`, then wildcards by the longest suffix (with a port before without).
 * `*.example.com` matches every subdomain of example.com, not example.com itself.
 */
export function endpointMatcher(patterns: readonly string[]): (url: URL) => string | undefined {
  const exact = new Map<string, string>();
  const wildcards: Pattern[] = [];
  for (const raw of patterns) {
    const p = parse(raw);
    if (p.wildcard) wildcards.push(p);
    else exact.set(p.port === undefined ? p.host : `${p.host}:${p.port}`, raw);
  }
  wildcards.sort((a, b) => b.host.length - a.host.length || Number(b.port !== undefined) - Number(a.port !== undefined));
  return (url) => {
    let host = url.hostname.toLowerCase();
    if (host.startsWith('[')) host = host.slice(1, -1);
    const port = defaultPort(url);
    const found = exact.get(`${host}:${port}`) ?? exact.get(host);
    if (found !== undefined) return found;
    for (const w of wildcards) {
      if ((w.port === undefined || w.port === port) && host.endsWith(`.${w.host}`)) return w.pattern;
    }
    return undefined;
  };
}
