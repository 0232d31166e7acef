/** Cache-Control directives: lower-case names, values unquoted, `true` for a directive without one. */
export type Directives = Record<string, string | true>;

const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Splits a field value on the commas that are not inside a quoted string. */
function splitList(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

function unquote(value: string): string | undefined {
  if (!value.startsWith('"')) return token.test(value) ? value : undefined;
  if (value.length < 2 || !value.endsWith('"')) return undefined;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/**
 * Parses a Cache-Control field value (RFC 9111 §5.2): `token [ "=" ( token / quoted-string ) ]`,
 * comma-separated. Directive names are case-insensitive; an element that is not of that form
 * (`max-age =1`, `max-age= 1`) is ignored; a quoted comma does not split. When a directive
 * appears twice, the first occurrence is used (RFC 9111 §4.2.1). http-cache-semantics splits on
 * every comma and `=`, keeps names as sent and lets the last occurrence win.
 */
export function parseCacheControl(value: string | undefined): Directives {
  const directives: Directives = {};
  if (value === undefined) return directives;
  for (const part of splitList(value)) {
    const element = part.trim();
    if (element === '') continue;
    const eq = element.indexOf('=');
    const name = (eq === -1 ? element : element.slice(0, eq)).toLowerCase();
    if (!token.test(name) || name in directives) continue;
    if (eq === -1) {
      directives[name] = true;
      continue;
    }
    const parsed = unquote(element.slice(eq + 1));
    if (parsed !== undefined) directives[name] = parsed;
  }
  return directives;
}

/** The field names a qualified `no-cache="a, b"` (or `private="a"`) lists, lower-case. */
export function qualifiedFields(value: string | true | undefined): string[] {
  if (typeof value !== 'string') return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
}

/**
 * Writes directives back as a field value that http-cache-semantics' simple parser reads
 * correctly: values that are not plain tokens are left out (the library only reads numeric
 * values, and `true` for the rest).
 */
export function formatCacheControl(directives: Directives): string {
  const parts: string[] = [];
  for (const name in directives) {
    const value = directives[name];
    if (typeof value === 'string' && token.test(value)) parts.push(`${name}=${value}`);
    else parts.push(name);
  }
  return parts.join(', ');
}
