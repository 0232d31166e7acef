// docs/errors.md lists every error code the packages throw: this fails when a package adds a code
// the reference does not list (scanned from the sources: `super('ERR_...'`, `new ShallotError('ERR_...'`,
// `readonly code = 'ERR_...'`).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : name.endsWith('.ts') ? [path] : [];
  });
}

it('docs/errors.md lists every error code the packages throw', () => {
  const thrown = new Set<string>();
  for (const parent of ['packages', 'examples']) {
    if (!existsSync(join(root, parent))) continue;
    for (const pkg of readdirSync(join(root, parent))) {
      for (const file of sources(join(root, parent, pkg, 'src'))) {
        const text = readFileSync(file, 'utf8');
        for (const match of text.matchAll(/(?:super\(|new ShallotError\(|readonly code = )\s*'(ERR_[A-Z_]+)'/g)) thrown.add(match[1] as string);
      }
    }
  }
  const reference = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const missing = [...thrown].filter((code) => !reference.includes(`\`${code}\``)).sort();
  expect(thrown.size).toBeGreaterThan(10);
  expect(missing, 'codes thrown but not in docs/errors.md').toEqual([]);
});
