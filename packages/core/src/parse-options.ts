import type { z } from 'zod';
import { InvalidOptionsError } from './errors.js';
import { isSensitiveKey, REDACTED, redactJson } from './redact.js';

type Issue = z.core.$ZodIssue;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Prints a value the way a user would write it, short enough for one line of an error message. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || typeof value !== 'object' || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength} bytes)`;
  try {
    const json = JSON.stringify(value);
    return json.length > 60 ? `${json.slice(0, 57)}...` : json;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function article(kind: string): string {
  return /^[aeiou]/.test(kind) ? `an ${kind}` : `a ${kind}`;
}

function describeIssue(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(issue.expected)}`;
    case 'too_small': {
      const op = issue.inclusive === false ? '>' : '>=';
      if (issue.origin === 'string') return `expected a string of at least ${issue.minimum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `expected at least ${issue.minimum} items`;
      return `expected ${article(issue.origin === 'int' ? 'integer' : issue.origin)} ${op} ${issue.minimum}`;
    }
    case 'too_big': {
      const op = issue.inclusive === false ? '<' : '<=';
      if (issue.origin === 'string') return `expected a string of at most ${issue.maximum} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `expected at most ${issue.maximum} items`;
      return `expected ${article(issue.origin === 'int' ? 'integer' : issue.origin)} ${op} ${issue.maximum}`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => formatValue(v)).join(' | ')}`;
    case 'unrecognized_keys':
      return `unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

/**
 * Formats zod issues into one readable line per issue, each naming the option's path and the
 * value it got: `retry.maxAttempts: expected a number >= 1, got -1`.
 */
export function formatIssues(issues: readonly Issue[], input: unknown, name: string): string {
  return issues
    .map((issue) => {
      const path = [name, ...issue.path.map(String)].filter((p) => p !== '').join('.');
      const what = describeIssue(issue);
      if (issue.code === 'unrecognized_keys') return `${path}: ${what}`;
      const got = valueAt(input, issue.path);
      // The value of a secret (an API key of the wrong type, say) is never printed.
      const last = issue.path.at(-1);
      const shown = typeof last === 'string' && isSensitiveKey(last) ? REDACTED : formatValue(typeof got === 'object' && got !== null ? redactJson(got) : got);
      return `${path}: ${what}, got ${shown}`;
    })
    .join('; ');
}

/**
 * Validates options with a zod schema once, at construction, and returns the parsed value with
 * defaults filled in. Bad input throws {@link InvalidOptionsError} whose message names every bad
 * path and value; the zod error is its `cause`.
 *
 * @param schema - the options schema (usually a `z.strictObject`)
 * @param input - what the user passed
 * @param name - the name printed before each path, usually the factory's (`retry`)
 * @example
 * const resolved = parseOptions(retryOptionsSchema, options, 'retry');
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, name: string): z.output<S> {
  const result = schema.safeParse(input === undefined ? {} : input);
  if (result.success) return result.data;
  throw new InvalidOptionsError(formatIssues(result.error.issues, input, name), { cause: result.error });
}
