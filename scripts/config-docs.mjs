// Writes docs/configuration.md, the reference of every option a stack config file takes, from the
// zod schemas themselves: the JSON Schema zod 4 makes of each one gives the types, defaults and
// bounds; the TSDoc comment on each field of the schema's source gives the meaning.
//
//   npm run docs:config            regenerate (after tsc -b)
//   node scripts/config-docs.mjs --check   exit 1 when the committed file differs (docs/configuration.test.ts)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'docs/configuration.md');
const cli = await import('@shallot/cli');
const core = await import('@shallot/core');

// ---- TSDoc of schema fields, from the sources -------------------------------------------------

const sourceCache = new Map();
function sourcesOf(pkgDir) {
  if (!sourceCache.has(pkgDir)) {
    const dir = join(root, pkgDir, 'src');
    sourceCache.set(
      pkgDir,
      readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .map((f) => ts.createSourceFile(f, readFileSync(join(dir, f), 'utf8'), ts.ScriptTarget.ES2022, true)),
    );
  }
  return sourceCache.get(pkgDir);
}

function findInitializer(pkgDir, name) {
  for (const file of sourcesOf(pkgDir)) {
    for (const statement of file.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      for (const decl of statement.declarationList.declarations) {
        if (ts.isIdentifier(decl.name) && decl.name.text === name && decl.initializer) return decl.initializer;
      }
    }
  }
  return undefined;
}

function jsDocText(node) {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  const doc = docs.at(-1);
  if (doc === undefined) return '';
  const text = typeof doc.comment === 'string' ? doc.comment : (doc.comment ?? []).map((c) => c.text ?? '').join('');
  return text.replace(/\s+/g, ' ').replace(/\{@link ([^}]+)\}/g, '`$1`').trim();
}

// The first object literal given to a z.object()/z.strictObject() call in an expression.
function shapeLiteral(expr) {
  let found;
  const visit = (node) => {
    if (found) return;
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && /^(strictObject|object|looseObject)$/.test(node.expression.name.text)) {
      const arg = node.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) {
        found = arg;
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(expr);
  return found;
}

/**
 * Dotted field path -> TSDoc text, for the exported schema `name` of the package in `pkgDir`,
 * following fields whose schema is another named schema of the package (`backoff` ->
 * `exponentialBackoffSchema`: `backoff.initialMs`).
 */
function fieldDocs(pkgDir, name, prefix = '', seen = new Set()) {
  const docs = {};
  if (seen.has(name)) return docs;
  seen.add(name);
  const nested = (expr, path) => {
    const visit = (node) => {
      if (ts.isIdentifier(node) && node !== expr.name) {
        const init = findInitializer(pkgDir, node.text);
        if (init && shapeLiteral(init)) Object.assign(docs, fieldDocs(pkgDir, node.text, `${path}.`, seen));
        else if (init) visit(init);
        return;
      }
      ts.forEachChild(node, visit);
    };
    visit(expr);
  };
  const collect = (literal) => {
    for (const prop of literal.properties) {
      if (ts.isSpreadAssignment(prop) && ts.isIdentifier(prop.expression)) {
        const spread = findInitializer(pkgDir, prop.expression.text);
        if (spread && ts.isObjectLiteralExpression(spread)) collect(spread);
      } else if (ts.isPropertyAssignment(prop) && prop.name) {
        const key = prop.name.getText().replace(/^['"]|['"]$/g, '');
        const text = jsDocText(prop);
        if (text !== '') docs[`${prefix}${key}`] = text;
        const inner = shapeLiteral(prop.initializer);
        if (inner) {
          const sub = { properties: inner.properties };
          for (const p of sub.properties) {
            if (ts.isPropertyAssignment(p) && p.name) {
              const t = jsDocText(p);
              if (t !== '') docs[`${prefix}${key}.${p.name.getText()}`] = t;
            }
          }
        } else nested(prop.initializer, `${prefix}${key}`);
      }
    }
  };
  const init = findInitializer(pkgDir, name);
  const literal = init && shapeLiteral(init);
  if (literal) collect(literal);
  return docs;
}

/** The package folder and export name under which `schema` is exported, found by identity. */
async function locate(schema, packageName) {
  const mod = await import(packageName);
  const exportName = Object.keys(mod).find((k) => mod[k] === schema);
  const dir = readdirSync(join(root, 'packages')).find((d) => JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')).name === packageName);
  return { dir: dir === undefined ? undefined : `packages/${dir}`, exportName };
}

// ---- Types and bounds, from the JSON Schema ---------------------------------------------------

const json = (value) => JSON.stringify(value);
const maxSafe = Number.MAX_SAFE_INTEGER;

function typeOf(s) {
  if (s === undefined) return 'any';
  if (s.const !== undefined) return json(s.const);
  if (s.enum) return s.enum.map(json).join(' | ');
  if (s.anyOf || s.oneOf) return (s.anyOf ?? s.oneOf).map(typeOf).join(' | ');
  if (s.type === 'array') return `${typeOf(s.items).includes(' ') ? `(${typeOf(s.items)})` : typeOf(s.items)}[]`;
  if (s.type === 'object') {
    if (s.properties) return `{ ${Object.keys(s.properties).join(', ')} }`;
    if (s.additionalProperties) return `{ [name]: ${typeOf(s.additionalProperties)} }`;
    return 'object';
  }
  if (s.type === 'string' && s.format) return `string (${s.format})`;
  return s.type ?? 'any';
}

function bounds(s) {
  const parts = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < maxSafe) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined && s.minLength > 0) parts.push(`length ≥ ${s.minLength}`);
  if (s.minItems !== undefined && s.minItems > 0) parts.push(`≥ ${s.minItems} items`);
  if (s.pattern !== undefined) parts.push(s.pattern.includes('`') ? `matches \`\` ${s.pattern} \`\`` : `matches \`${s.pattern}\``);
  if (s.type === 'array' && s.items) {
    const inner = bounds(s.items);
    if (inner !== '') parts.push(`each ${inner}`);
  }
  return parts.join(', ');
}

const cell = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');

function rows(schema, docs, prefix = '', docPrefix = '') {
  const required = new Set(schema.required ?? []);
  const out = [];
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const def = s.default !== undefined ? `\`${json(s.default)}\`` : required.has(name) ? '**required**' : '';
    const variants = s.oneOf ?? s.anyOf;
    const meaning = docs[`${docPrefix}${name}`] ?? s.description ?? '';
    out.push(`| \`${prefix}${name}\` | ${cell(typeOf(s))} | ${cell(def)} | ${cell(bounds(s))} | ${cell(meaning)} |`);
    if (s.type === 'object' && s.properties) out.push(...rows(s, docs, `${prefix}${name}.`, `${docPrefix}${name}.`));
    else if (variants && variants.every((v) => v.type === 'object' && v.properties)) {
      for (const v of variants) {
        const kind = v.properties.kind?.const;
        const properties = Object.fromEntries(Object.entries(v.properties).filter(([k]) => k !== 'kind'));
        out.push(...rows({ ...v, properties: kind === undefined ? v.properties : properties }, docs, `${prefix}${name}${kind === undefined ? '' : `{kind: ${json(kind)}}`}.`, `${docPrefix}${name}.`));
      }
    }
  }
  return out;
}

const header = ['| option | type | default | bounds | meaning |', '| --- | --- | --- | --- | --- |'];
const toJson = (schema) => cli.configJsonSchema(schema);

// ---- The document -----------------------------------------------------------------------------

const lines = [
  '# Configuration reference',
  '',
  '<!-- Generated by `npm run docs:config` (scripts/config-docs.mjs) from the zod schemas; do not edit by hand. docs/configuration.test.ts fails when it drifts. -->',
  '',
  'Every option a stack config file takes (`shallot --config`, `stackFromConfig()`), as the zod schemas',
  'that validate it say: the types, defaults and bounds come from the JSON Schema zod makes of each',
  'schema, the meanings from the schema\'s own documentation. Durations are milliseconds. Options that',
  'take a function or an object (hooks such as `onRetry`, stores, OpenTelemetry providers) cannot come',
  'from JSON and are left out; set them in code. `shallot config schema` prints the whole JSON Schema.',
  '',
  '```json',
  '{ "transport": "undici", "baseUrl": "https://api.example.com", "middlewares": [{ "use": "timeout", "totalMs": 10000 }, { "use": "retry", "maxAttempts": 3 }] }',
  '```',
  '',
  '## The file',
  '',
];

const fileSchema = toJson(cli.stackConfigSchema);
const clientLoc = await locate(core.clientOptionsSchema, '@shallot/core');
const clientDocs = {
  ...fieldDocs(clientLoc.dir, clientLoc.exportName),
  $schema: 'Where editors find the JSON Schema (`shallot config schema > stack.schema.json`).',
  plugins: 'Modules the CLI imports first (relative to the file, or packages installed beside it), so the middlewares they register can be named.',
  transport: '`"undici"` (the default), `"node-fetch"`, or `{ "kind": ..., ...options }` with the options below.',
  middlewares: 'The layers, outermost first, as `.use()` adds them: `{ "use": name, ...options }`.',
  headers: 'Headers sent with every request (a request\'s own win).',
};
const fileRows = Object.entries(fileSchema.properties).map(([name, s]) => {
  const def = s.default !== undefined ? `\`${json(s.default)}\`` : '';
  const type = name === 'middlewares' ? '{ use, ...options }[]' : name === 'transport' ? '"undici" \\| "node-fetch" \\| { kind, ...options }' : typeOf(s);
  const doc = name === 'transport' ? clientDocs.transport : name === 'headers' ? clientDocs.headers : clientDocs[name] ?? '';
  return `| \`${name}\` | ${cell(type).replace(/\\\\\|/g, '\\|')} | ${cell(def)} | ${cell(name === 'middlewares' || name === 'transport' ? '' : bounds(s))} | ${cell(doc)} |`;
});
lines.push(...header, ...fileRows, '');

lines.push('## Transports', '');
for (const [kind, schema] of [
  ['undici', core.undiciTransportOptionsSchema],
  ['node-fetch', core.nodeFetchTransportOptionsSchema],
]) {
  const loc = await locate(schema, '@shallot/core');
  const option = toJson(cli.transportConfigSchema).anyOf[1].oneOf.find((o) => o.properties.kind.const === kind);
  const properties = Object.fromEntries(Object.entries(option.properties).filter(([k]) => k !== 'kind'));
  lines.push(`### \`{ "kind": "${kind}" }\``, '', ...header, ...rows({ ...option, properties }, fieldDocs(loc.dir, loc.exportName)), '');
}

lines.push('## Middlewares', '', 'Each entry of `middlewares` is `{ "use": name, ...options }`; the options are those of the factory of the same name.', '');
for (const m of cli.registeredMiddlewares()) {
  const schema = toJson(m.jsonSchema);
  const loc = m.package === undefined ? {} : await locate(m.schema, m.package);
  const docs = loc.dir === undefined || loc.exportName === undefined ? {} : fieldDocs(loc.dir, loc.exportName);
  lines.push(`### \`${m.name}\``, '');
  lines.push(`${m.description ?? ''}${m.package === undefined ? '' : ` From \`${m.package}\` (\`${m.name}()\`).`}`.trim(), '');
  const body = rows(schema, docs);
  lines.push(...(body.length === 0 ? ['No options.'] : [...header, ...body]), '');
}

// A ConnectionManager config file: `{ "connectionManager": { ...options } }`, validated by the
// JSON part of the manager's own schema (what ConnectionManager.fromConfig(json) takes).
if (cli.connectionManagerConfigSchema !== undefined) {
  const cm = await import('@shallot/connection-manager');
  const loc = await locate(cm.connectionManagerOptionsSchema, '@shallot/connection-manager');
  lines.push(
    '## ConnectionManager config files',
    '',
    'A file whose top level is `{ "connectionManager": { ...options } }` (and optionally `$schema`) configures a',
    '`ConnectionManager` of `@shallot/connection-manager` instead of a stack (`shallot --config`, `clientFromConfig()`).',
    'Its options are those of `new ConnectionManager()` that JSON can hold, validated by the manager\'s own',
    '`connectionManagerOptionsSchema`; `ConnectionManager.fromConfig(json)` takes the same options object:',
    '',
    '```json',
    '{ "connectionManager": { "maxRetries": 2, "backoffFactorMs": 100, "endpointConfigs": { "api.example.com": { "timeoutMs": 10000 } } } }',
    '```',
    '',
    ...header,
    ...rows(toJson(cli.connectionManagerConfigSchema).properties.connectionManager, loc.dir === undefined || loc.exportName === undefined ? {} : fieldDocs(loc.dir, loc.exportName)),
    '',
  );
}

const text = `${lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== text) {
    console.error('docs/configuration.md is out of date with the schemas: run `npm run docs:config` and commit it.');
    process.exit(1);
  }
  console.log('docs/configuration.md matches the schemas');
} else {
  writeFileSync(target, text);
  console.log(`wrote docs/configuration.md (${cli.registeredMiddlewares().length} middlewares)`);
}
