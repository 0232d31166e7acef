/** The lower-case request header names a response varies on (`*` included when present). */
export function varyNames(headers: Headers): string[] {
  const vary = headers.get('vary');
  if (vary === null) return [];
  const names = vary
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
  return [...new Set(names)].sort();
}

// Lists whose members are case-insensitive tokens, where order carries no meaning beyond q.
const tokenLists: ReadonlySet<string> = new Set(['accept-language', 'accept-encoding', 'accept-charset']);

/**
 * A request header's value as variants are told apart by (RFC 9111 §4.1 lets a cache normalise
 * selecting header fields it understands): whitespace around list members never matters; the
 * members of `Accept-Language`, `Accept-Encoding` and `Accept-Charset` are compared without
 * regard to case or order (cache-tests `vary-normalise-*`).
 */
export function normalisedValue(name: string, value: string | null): string | null {
  if (value === null) return null;
  const members = value
    .split(',')
    .map((member) => member.replace(/\s+/g, ''))
    .filter((member) => member !== '');
  if (!tokenLists.has(name)) return members.join(',');
  return members
    .map((member) => member.toLowerCase())
    .sort()
    .join(',');
}

/**
 * The language an `Accept-Language` prefers most (highest q, first among equals), lower-case;
 * `undefined` when it names none. A stored response in that language is the one a server
 * negotiating on it would choose (cache-tests `vary-normalise-lang-select`).
 */
export function preferredLanguage(value: string | null): string | undefined {
  if (value === null) return undefined;
  let best: string | undefined;
  let bestQ = 0;
  for (const member of value.split(',')) {
    const [tag = '', ...params] = member.split(';').map((part) => part.trim());
    if (tag === '' || tag === '*') continue;
    const q = params.find((param) => /^q=/i.test(param));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (Number.isFinite(weight) && weight > bestQ) {
      best = tag.toLowerCase();
      bestQ = weight;
    }
  }
  return best;
}
