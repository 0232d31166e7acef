import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Tests import the TypeScript sources, but a few run what users run: the built `shallot` bin and
// the guides' samples as plain JavaScript against dist/. `tsc -b` is quick when nothing changed.
export function setup(): void {
  const root = fileURLToPath(new URL('.', import.meta.url));
  try {
    execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    const out = String((error as { stdout?: unknown }).stdout ?? '');
    process.stderr.write(`vitest global setup: tsc -b failed; tests of the built packages may fail:\n${out.split('\n').slice(0, 20).join('\n')}\n`);
  }
}
