// Runs the command line for the tests: the built bin as `npx shallot` runs it, or `main()` in this process.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '@shallot/cli';

// The built bin (vitest's global setup runs `tsc -b` first).
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** A run's exit code and output. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built bin in a child process, with colours off unless `env` asks. */
export function spawnBin(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, CI: '', NO_COLOR: '', FORCE_COLOR: '', ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

/** Runs the command line in this process, with streams that are not terminals. */
export async function run(args: string[]): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on('data', (c: Buffer) => chunks.out.push(c));
  stderr.on('data', (c: Buffer) => chunks.err.push(c));
  const code = await main(['node', 'shallot', ...args], { stdout, stderr, env: { NO_COLOR: '1' } });
  return { code, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() };
}

/** A writer of files in a fresh temporary directory: `file(name, text)` returns the path. */
export function tempFiles(prefix: string): { dir: string; file(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    file(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}
