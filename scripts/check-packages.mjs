// The packaging checks of every public package (`npm run check:packages`, run by .ci/run):
// - `npm pack --dry-run`: the tarball holds package.json, README.md, LICENSE and dist/ (no maps,
//   no build info), and the entry's .js and .d.ts;
// - a LICENSE and a CHANGELOG.md beside the package.json;
// - publint: nothing wrong with the package.json as published (errors and warnings fail);
// - @arethetypeswrong/cli: the types resolve for every consumer (node10, node16 from ESM and
//   CJS, bundler). The packages are ESM-only: `cjs-resolves-to-esm` is expected and ignored, as
//   Node.js >= 20.19 loads them with require() and TypeScript's module nodenext types that (the
//   CommonJS file of fixtures/consumer compiles it).
// Run after `tsc -b`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const attw = join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
const allowed = /^(package\.json|README\.md|LICENSE|dist\/(?!.*\.map$)(?!\.tsbuildinfo$).+)$/;
const only = process.argv.slice(2);
let problems = 0;

function fail(pkg, message) {
  problems++;
  console.error(`  ✗ ${pkg}: ${message}`);
}

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir: join(root, 'packages', dir), pkg: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ pkg }) => pkg.private !== true && (only.length === 0 || only.includes(pkg.name)));

for (const { dir, pkg } of packages) {
  const before = problems;
  for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md']) if (!existsSync(join(dir, file))) fail(pkg.name, `no ${file}`);

  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  const paths = packed.files.map((f) => f.path);
  for (const path of paths) if (!allowed.test(path)) fail(pkg.name, `npm pack would ship ${path} (only dist/, README.md and LICENSE belong in the tarball)`);
  for (const path of ['README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) if (!paths.includes(path)) fail(pkg.name, `npm pack would not ship ${path}`);

  const { messages } = await publint({ pkgDir: dir, level: 'suggestion', strict: true, pack: 'npm' });
  for (const message of messages) {
    const text = formatMessage(message, pkg) ?? message.code;
    if (message.type === 'suggestion') console.log(`  · ${pkg.name}: publint suggests: ${text}`);
    else fail(pkg.name, `publint ${message.type}: ${text}`);
  }

  try {
    execFileSync(process.execPath, [attw, '--pack', dir, '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_ignore_scripts: 'true' } });
  } catch (error) {
    fail(pkg.name, `are-the-types-wrong:\n${String(error.stdout ?? '').trim()}\n${String(error.stderr ?? '').trim()}`);
  }
  if (problems === before) console.log(`  ✓ ${pkg.name}: ${paths.length} files packed (dist/, README.md, LICENSE), publint and are-the-types-wrong clean`);
}

console.log(problems === 0 ? `packages: ${packages.length} checked, all clean` : `packages: ${problems} problems`);
process.exit(problems === 0 ? 0 : 1);
