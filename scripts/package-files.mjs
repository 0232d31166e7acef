// Gives every package under packages/ (and examples/) the shape the package checks expect:
// `files` that ship dist/ alone (npm adds package.json, README and LICENSE), a LICENSE, and a
// CHANGELOG.md. Idempotent: run it after adding a package (`node scripts/package-files.mjs`).
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const files = ['dist', '!dist/.tsbuildinfo', '!dist/**/*.map'];
for (const parent of ['packages', 'examples']) {
  if (!existsSync(join(root, parent))) continue;
  for (const dir of readdirSync(join(root, parent))) {
    const at = join(root, parent, dir);
    const manifest = join(at, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    if (JSON.stringify(pkg.files) !== JSON.stringify(files)) {
      pkg.files = files;
      writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
    }
    if (!existsSync(join(at, 'LICENSE'))) copyFileSync(join(root, 'LICENSE'), join(at, 'LICENSE'));
    if (!existsSync(join(at, 'CHANGELOG.md'))) {
      writeFileSync(join(at, 'CHANGELOG.md'), `# Changelog of ${pkg.name}\n\nThe notable changes of each release, newest first ([Keep a Changelog](https://keepachangelog.com/en/1.1.0/), [Semantic Versioning](https://semver.org/)).\n\n## Unreleased\n\n## ${pkg.version}\n\n- First release: ${pkg.description}.\n`);
    }
  }
}
