/**
 * The one redaction implementation: logs (`redactingLogger`), span attributes (`tracing()`) and
 * stats (`metrics()`) all go through these functions, so a secret hidden in one place is hidden
 * in every place. A sensitive value is replaced whole, never partly: the original library
 * redacted `Authorization: Bearer <token>` to `Bearer <token>`.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Extra keys to treat as sensitive, on top of the built-in ones. */
export interface RedactionOptions {
  /**
   * Header names, query keys or JSON keys (compared case-insensitively), or patterns tested
   * against them, that are redacted as well as the built-in ones.
   * @default []
   */
  keys?: readonly (string | RegExp)[] | undefined;
}

/**
 * Any key containing one of these words is sensitive: `Authorization`, `Proxy-Authorization`,
 * `Cookie`, `Set-Cookie`, `X-API-Key`, `access_token`, `client_secret`, `password`, `sessionId`...
 */
const sensitivePattern = /authorization|cookie|token|secret|passw(?:or)?d|api[-_]?key|session|credential|private[-_]?key|signature|[-_.]key$/i;

/** Query keys that the OpenTelemetry HTTP conventions redact in `url.full` by default (signed URLs). */
const exactKeys = new Set(['sig', 'awsaccesskeyid', 'x-goog-signature', 'x-goog-credential']);

/**
 * Short query keys that carry secrets in URLs though they are too common elsewhere to redact in
 * headers or JSON (an error's `code`): `key`, OAuth's `code`, `pwd`, `pass`, `jwt`, `auth`,
 * `sid`, `otp`, `apikey`, `accesskey`.
 */
const exactQueryKeys = new Set(['key', 'code', 'pwd', 'pass', 'jwt', 'auth', 'sid', 'otp', 'apikey', 'accesskey']);

function matchesExtra(key: string, extra: readonly (string | RegExp)[] | undefined): boolean {
  if (extra === undefined || extra.length === 0) return false;
  const lower = key.toLowerCase();
  for (const k of extra) {
    if (typeof k === 'string' ? k.toLowerCase() === lower : k.test(key)) return true;
  }
  return false;
}

/**
 * True when a header name, query key or JSON key holds a secret: `Authorization`,
 * `Proxy-Authorization`, `Cookie`, `Set-Cookie`, API-key headers, and any key matching
 * `token`, `secret`, `password`, `api[-_]?key` or `session` (plus `credential`,
 * `private_key`, `signature` and the signed-URL keys `sig`, `AWSAccessKeyId`).
 *
 * @example
 * isSensitiveKey('X-API-Key') // true
 * isSensitiveKey('Accept')    // false
 */
export function isSensitiveKey(key: string, options?: RedactionOptions): boolean {
  return sensitivePattern.test(key) || exactKeys.has(key.toLowerCase()) || matchesExtra(key, options?.keys);
}

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** Redacts the values of sensitive keys in `a=1&b=2`, keeping everything else byte for byte. */
function redactPairs(text: string, options: RedactionOptions | undefined): string {
  if (text === '') return text;
  let changed = false;
  const parts = text.split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawKey = eq === -1 ? part : part.slice(0, eq);
    if (rawKey === '') return part;
    const key = decodeKey(rawKey);
    if (!exactQueryKeys.has(key.toLowerCase()) && !isSensitiveKey(key, options)) return part;
    changed = true;
    return `${rawKey}=${REDACTED}`;
  });
  return changed ? parts.join('&') : text;
}

/**
 * A URL fit to print: user name and password removed, and the values of sensitive query keys
 * (and fragment keys, where OAuth's implicit flow puts `access_token`) replaced by
 * `[REDACTED]`. Other parts are kept as they were written. A string that is not a URL is
 * treated as text (see {@link redactText}).
 *
 * @example
 * redactUrl('https://bob:hunter2@api.example.com/a?token=abc&page=2')
 * // 'https://api.example.com/a?token=[REDACTED]&page=2'
 */
export function redactUrl(url: URL | string, options?: RedactionOptions): string {
  let parsed: URL;
  if (url instanceof URL) parsed = url;
  else {
    const maybe = URL.canParse(url) ? new URL(url) : undefined;
    if (maybe === undefined) return redactText(url, options);
    parsed = maybe;
  }
  const href = parsed.href;
  // Rebuild by hand rather than through URLSearchParams, which would re-encode every other key.
  const hashAt = href.indexOf('#');
  const beforeHash = hashAt === -1 ? href : href.slice(0, hashAt);
  const queryAt = beforeHash.indexOf('?');
  let base = queryAt === -1 ? beforeHash : beforeHash.slice(0, queryAt);
  if (parsed.username !== '' || parsed.password !== '') {
    const copy = new URL(base);
    copy.username = '';
    copy.password = '';
    base = copy.href;
  }
  const query = queryAt === -1 ? undefined : beforeHash.slice(queryAt + 1);
  const fragment = hashAt === -1 ? undefined : href.slice(hashAt + 1);
  let out = base;
  if (query !== undefined) out += `?${redactPairs(query, options)}`;
  if (fragment !== undefined) out += `#${fragment.includes('=') ? redactPairs(fragment, options) : fragment}`;
  return out;
}

/** Headers as they come: a `Headers`, node's `IncomingHttpHeaders`, a record or a list of pairs. */
export type HeadersLike =
  | Headers
  | Readonly<Record<string, string | number | readonly string[] | undefined>>
  | Iterable<readonly [string, string]>;

/**
 * A plain copy of headers fit to print: the whole value of every sensitive header is replaced
 * by `[REDACTED]` (so `Authorization: Bearer abc` becomes `[REDACTED]`, not
 * `Bearer [REDACTED]`); URLs and `key=value` secrets inside other values are redacted too.
 * Names are lower-cased.
 *
 * @example
 * redactHeaders(new Headers({ authorization: 'Bearer abc', accept: 'text/html' }))
 * // { authorization: '[REDACTED]', accept: 'text/html' }
 */
export function redactHeaders(headers: HeadersLike, options?: RedactionOptions): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const add = (name: string, value: string | number | readonly string[] | undefined): void => {
    if (value === undefined) return;
    const key = name.toLowerCase();
    if (isSensitiveKey(key, options)) {
      out[key] = REDACTED;
      return;
    }
    const clean = typeof value === 'number' ? String(value) : typeof value === 'string' ? redactText(value, options) : value.map((v) => redactText(v, options));
    const prior = out[key];
    if (prior === undefined) out[key] = clean;
    else out[key] = [...(Array.isArray(prior) ? prior : [prior]), ...(Array.isArray(clean) ? clean : [clean as string])];
  };
  if (headers instanceof Headers) headers.forEach((value, name) => add(name, value));
  else if (Symbol.iterator in headers) for (const [name, value] of headers as Iterable<readonly [string, string]>) add(name, value);
  else for (const [name, value] of Object.entries(headers)) add(name, value);
  return out;
}

const sensitiveWord = String.raw`(?:[\w.-]*(?:authorization|cookie|token|secret|passw(?:or)?d|api[-_]?key|session|credential|private[-_]?key|signature)[\w.-]*|[\w.]*[-_]key|pwd|jwt|otp)`;
/** `key: value`, `key=value`, `"key": "value"`; the value may start with an auth scheme. */
const pairPattern = new RegExp(
  String.raw`(?<![\w.-])(["']?)(${sensitiveWord})\1(\s*[:=]\s*)(?:(?:Bearer|Basic|Digest|Negotiate|Token|Bot|AWS4-HMAC-SHA256)\s+)?("[^"]*"|'[^']*'|[^\s,;&"']+)`,
  'gi',
);
/** `Authorization: ...` and `Cookie: ...` lines: the value runs to the end of the line. */
const headerLinePattern = /\b((?:proxy-)?authorization|(?:set-)?cookie)(\s*:\s*)([^\r\n"'\s][^\r\n]*)/gi;
const bearerPattern = /\b(Bearer|Basic|Digest|Negotiate)\s+[A-Za-z0-9._~+/-]+=*/g;
const urlPattern = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;

/**
 * Redacts secrets inside free text (log messages, error messages, stack traces): every URL
 * through {@link redactUrl}, the value of `key: value` and `key=value` pairs whose key is
 * sensitive (`Authorization: Bearer abc` → `Authorization: [REDACTED]`), and bare
 * `Bearer <token>` credentials.
 *
 * @example
 * redactText('GET https://x.test/?api_key=k1 failed, password=hunter2')
 * // 'GET https://x.test/?api_key=[REDACTED] failed, password=[REDACTED]'
 */
export function redactText(text: string, options?: RedactionOptions): string {
  if (text.length === 0) return text;
  let out = text.includes('://') ? text.replace(urlPattern, (match) => redactUrl(match, options)) : text;
  out = out.replace(headerLinePattern, (_match, key: string, sep: string) => `${key}${sep}${REDACTED}`);
  out = out.replace(pairPattern, (_match, quote: string, key: string, sep: string, value: string) => {
    const quoted = value.startsWith('"') || value.startsWith("'");
    return `${quote}${key}${quote}${sep}${quoted ? `${value[0]}${REDACTED}${value[0]}` : REDACTED}`;
  });
  if (options?.keys !== undefined && options.keys.length > 0) {
    out = out.replace(/([\w.-]+)(\s*[:=]\s*)([^\s,;&"']+)/g, (match, key: string, sep: string) =>
      matchesExtra(key, options.keys) ? `${key}${sep}${REDACTED}` : match,
    );
  }
  return out.replace(bearerPattern, (match, scheme: string) => (match.endsWith(REDACTED) ? match : `${scheme} ${REDACTED}`));
}

const maxDepth = 32;

function redactError(error: Error, options: RedactionOptions | undefined, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: error.name, message: redactText(error.message, options) };
  if (error.stack !== undefined) out.stack = redactText(error.stack, options);
  for (const [key, value] of Object.entries(error)) {
    out[key] = isSensitiveKey(key, options) ? REDACTED : redactValue(value, options, seen, depth + 1);
  }
  if (error.cause !== undefined) out.cause = redactValue(error.cause, options, seen, depth + 1);
  return out;
}

/** A Map key as text; one with no string form (a null-prototype object) by its tag. */
function keyText(key: unknown): string {
  try {
    return String(key);
  } catch {
    return Object.prototype.toString.call(key);
  }
}

function redactValue(value: unknown, options: RedactionOptions | undefined, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return redactString(value, options, depth);
  if (value === null || typeof value !== 'object') return value;
  if (depth > maxDepth) return '[Truncated]';
  if (value instanceof URL) return redactUrl(value, options);
  if (value instanceof URLSearchParams) return redactPairs(value.toString(), options);
  if (value instanceof Headers) return redactHeaders(value, options);
  if (value instanceof Date) return value;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary: ${value.byteLength} bytes]`;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactError(value, options, seen, depth);
    if (Array.isArray(value)) return value.map((item) => redactValue(item, options, seen, depth + 1));
    if (value instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value) {
        const key = keyText(k);
        out[key] = isSensitiveKey(key, options) ? REDACTED : redactValue(v, options, seen, depth + 1);
      }
      return out;
    }
    if (value instanceof Set) return [...value].map((item) => redactValue(item, options, seen, depth + 1));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return redactValue(toJSON.call(value), options, seen, depth + 1);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSensitiveKey(key, options) ? REDACTED : redactValue(item, options, seen, depth + 1);
    }
    return out;
  } catch {
    // A getter or a toJSON that throws, a revoked Proxy: printing must never throw (a log line
    // or an options error would take the request down with it).
    return '[Unreadable]';
  } finally {
    seen.delete(value);
  }
}

function redactString(text: string, options: RedactionOptions | undefined, depth: number): string {
  const first = text.trimStart()[0];
  if ((first === '{' || first === '[') && depth <= maxDepth) {
    try {
      const parsed = JSON.parse(text) as unknown;
      return JSON.stringify(redactValue(parsed, options, new WeakSet(), depth + 1));
    } catch {
      // not JSON: treat as text
    }
  }
  return redactText(text, options);
}

/**
 * A redacted deep copy of a JSON-like value (a parsed body, log fields): the whole value of
 * every sensitive key is replaced by `[REDACTED]`, at any depth and inside arrays; strings are
 * redacted as text (URLs, `key=value` pairs); a string holding JSON is parsed, redacted and
 * serialised again. `Headers`, `URL` and `Error` values are redacted as such; cycles print as
 * `[Circular]`. The input is never modified.
 *
 * @example
 * redactJson({ user: 'bob', auth: { password: 'hunter2' }, items: [{ api_key: 'k1' }] })
 * // { user: 'bob', auth: { password: '[REDACTED]' }, items: [{ api_key: '[REDACTED]' }] }
 */
export function redactJson(value: unknown, options?: RedactionOptions): unknown {
  try {
    return redactValue(value, options, new WeakSet(), 0);
  } catch {
    return '[Unreadable]';
  }
}
