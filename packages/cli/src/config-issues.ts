import { formatIssues, formatValue } from '@shallot/core';
import { closest, distance } from 'fastest-levenshtein';
import type { z } from 'zod';
import { registeredMiddleware } from './registry.js';

type Issue = z.core.$ZodIssue;
type Schema = z.ZodType;
type Def = Record<string, unknown> & { type: string };
type Path = readonly (string | number)[];

/** One problem of a config: where it is and what is wrong. */
export interface ConfigIssue {
  /** The path of the value, as keys and indexes (`['middlewares', 1, 'maxAttempts']`). */
  readonly path: Path;
  /** The path as written in messages: `middlewares[1].maxAttempts`. */
  readonly pathText: string;
  /** What is wrong: `expected a number >= 1, got 0`. */
  readonly message: string;
}

const defOf = (schema: Schema): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const wrappers = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'lazy']);

function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.type === 'lazy') current = (def.getter as () => Schema)();
    else if (def.type === 'pipe') current = def.in as Schema;
    else if (wrappers.has(def.type)) current = def.innerType as Schema;
    else return current;
  }
}

function valueAt(input: unknown, path: Path): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

// The option of a union that `value` is meant for: by discriminator, else the only object (or union) option.
function pickOption(def: Def, value: unknown): Schema | undefined {
  const options = (def.options as Schema[]).map(unwrap);
  const disc = def.discriminator as string | undefined;
  if (disc !== undefined && value !== null && typeof value === 'object') {
    const wanted = (value as Record<string, unknown>)[disc];
    return options.find((o) => {
      const field = (defOf(o).shape as Record<string, Schema> | undefined)?.[disc];
      return field !== undefined && (defOf(unwrap(field)).values as unknown[] | undefined)?.includes(wanted);
    });
  }
  const objects = options.filter((o) => defOf(o).type === 'object' || defOf(o).type === 'union');
  return objects.length === 1 ? objects[0] : undefined;
}

/** The schema of the value at `path` of `input`, when it can be told. */
function schemaAt(root: Schema, path: Path, input: unknown): Schema | undefined {
  let schema: Schema | undefined = unwrap(root);
  for (let i = 0; i <= path.length && schema !== undefined; i++) {
    let def = defOf(schema);
    while (def.type === 'union') {
      schema = pickOption(def, valueAt(input, path.slice(0, i)));
      if (schema === undefined) return undefined;
      def = defOf(schema);
    }
    if (i === path.length) return schema;
    const key = path[i] as string | number;
    if (def.type === 'object') schema = (def.shape as Record<string, Schema>)[key];
    else if (def.type === 'array') schema = def.element as Schema;
    else if (def.type === 'record') schema = def.valueType as Schema;
    else return undefined;
    if (schema !== undefined) schema = unwrap(schema);
  }
  return schema;
}

const normalise = (name: string): string => name.toLowerCase().replace(/[-_ ]/g, '');

/** The candidate `name` was probably meant to be, if one is close enough. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  if (candidates.length === 0 || name === '') return undefined;
  const exact = candidates.find((c) => normalise(c) === normalise(name));
  if (exact !== undefined) return exact;
  const best = closest(name, [...candidates]);
  return distance(name.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `middlewares[1].maxAttempts`; the root is `(config)`. */
export function pathText(path: Path): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (identifier.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(key)}]`;
  }
  return text === '' ? '(config)' : text;
}

const quoteList = (names: readonly string[]): string => names.map((n) => JSON.stringify(n)).join(', ');

// What one issue says, without its path: core's wording (`expected a number >= 1, got 0`).
function describe(issue: Issue, input: unknown): string {
  const text = formatIssues([{ ...issue, path: [] } as Issue], valueAt(input, issue.path as Path), '');
  return text.replace(/^: /, '');
}

// An option of the code's own schema (`full`, or a middleware's) that the config leaves out because JSON cannot hold it.
function codeOnly(path: Path, key: string, input: unknown, full: Schema | undefined): boolean {
  const shapeOf = (schema: Schema | undefined): Record<string, Schema> | undefined => (schema === undefined ? undefined : (defOf(schema).shape as Record<string, Schema> | undefined));
  if (full !== undefined && shapeOf(schemaAt(full, path, input))?.[key] !== undefined) return true;
  if (path.length !== 2 || path[0] !== 'middlewares') return false;
  const use = (valueAt(input, path) as { use?: unknown } | undefined)?.use;
  const registration = typeof use === 'string' ? registeredMiddleware(use) : undefined;
  return registration !== undefined && shapeOf(unwrap(registration.schema))?.[key] !== undefined;
}

function isRootOnly(issues: readonly Issue[]): boolean {
  return issues.every((i) => i.path.length === 0 && i.code !== 'unrecognized_keys' && i.code !== 'invalid_union');
}

function flatten(issue: Issue, prefix: Path, root: Schema, input: unknown, full: Schema | undefined, out: ConfigIssue[]): void {
  const path: Path = [...prefix, ...(issue.path as (string | number)[])];
  const add = (at: Path, message: string): void => {
    out.push({ path: at, pathText: pathText(at), message });
  };
  if (issue.code === 'invalid_union') {
    const discriminator = (issue as { discriminator?: string }).discriminator;
    if ((issue as { note?: string }).note === 'No matching discriminator' && discriminator !== undefined) {
      const names = ((issue as { options?: unknown[] }).options ?? []).filter((o) => o !== undefined).map(String);
      const got = valueAt(input, path);
      const what = discriminator === 'use' ? 'middleware' : `${discriminator}`;
      if (got === undefined) {
        add(path, `missing: name the ${what} with "${discriminator}", one of ${quoteList(names)}`);
        return;
      }
      const hint = typeof got === 'string' ? suggest(got, names) : undefined;
      add(path, `unknown ${what} ${formatValue(got)}${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; expected one of ${quoteList(names)}`);
      return;
    }
    // A plain union: report the branch the value was meant for, when one went deeper than its root.
    const errors = (issue as { errors?: Issue[][] }).errors ?? [];
    const branches = errors.filter((branch) => !isRootOnly(branch));
    if (branches.length === 1) {
      for (const inner of branches[0] as Issue[]) flatten(inner, path, root, input, full, out);
      return;
    }
    const values = errors.map((branch) => (branch.length === 1 && branch[0]?.code === 'invalid_value' ? branch[0].values : undefined));
    if (values.every((v) => v !== undefined)) {
      add(path, `expected one of ${values.flat().map((v) => formatValue(v)).join(' | ')}, got ${formatValue(valueAt(input, path))}`);
      return;
    }
    const expected = errors.map((branch) => (branch[0] === undefined ? '' : describe({ ...branch[0], path: [] } as Issue, undefined).replace(/, got .*$/, '').replace(/^expected /, '')));
    add(path, `expected ${[...new Set(expected.filter((e) => e !== ''))].join(', or ')}; got ${formatValue(valueAt(input, path))}`);
    return;
  }
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys((defOf(schemaAt(root, path, input) ?? unwrap(root)).shape as Record<string, Schema> | undefined) ?? {});
    for (const key of issue.keys) {
      if (codeOnly(path, key, input, full)) {
        add([...path, key], `"${key}" takes a function or an object, which a config file cannot hold: set it in code`);
        continue;
      }
      const hint = suggest(key, known);
      add([...path, key], `unknown option "${key}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}${known.length > 0 && hint === undefined ? `; expected one of ${quoteList(known)}` : ''}`);
    }
    return;
  }
  // A refinement's message says it all; the whole object as "got" would be noise.
  if (issue.code === 'custom') add(path, issue.message);
  else if (issue.code === 'invalid_type' && valueAt(input, path) === undefined) add(path, `missing: ${describe({ ...issue, path: [] } as Issue, undefined).replace(/, got undefined$/, '')}`);
  else add(path, describe({ ...issue, path: path as PropertyKey[] } as Issue, input));
}

/**
 * Turns zod's issues into one readable problem each, with the path of the value it concerns.
 * `full` is the schema code validates with, of which `schema` is the part JSON can hold: a key
 * it has and `schema` lacks is reported as one to set in code.
 */
export function configIssues(issues: readonly Issue[], schema: Schema, input: unknown, full?: Schema): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) flatten(issue, [], schema, input, full, out);
  return out;
}
