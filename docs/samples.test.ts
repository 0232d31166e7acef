// Runs every ```ts code block of every guide in docs/ and of the README (blocks fenced as
// ```ts no-run are skipped; ```ts redis blocks run in docs/redis-samples.test.ts), twice:
// - as TypeScript, imported by vitest (packages resolved to their sources);
// - as plain JavaScript on this Node.js (the lowest supported is 20): the types are stripped with
//   TypeScript's transpileModule, keeping every syntax as written (target ESNext, so an
//   `await using` stays and fails on Node 20, as it would for a reader), and the result runs with
//   `node` in a child process against the built packages (dist/, as `npm install` leaves them).
// Each block is a complete module: it imports shallot by package name and stands up its own
// upstream with createTestServer(), so what the guide shows is what this test executes.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runAsJavaScript } from './sample-runner.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
// Shared with docs/redis-samples.test.ts, which runs at the same time: files are overwritten, never removed.
const out = `${dir}.samples/`;
mkdirSync(out, { recursive: true });

const sources = [
  ...readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => ({ label: f, path: `${dir}${f}`, stem: f.replace(/\.md$/, '') })),
  { label: 'README.md (root)', path: `${root}README.md`, stem: 'root-readme' },
];

for (const source of sources) {
  const text = readFileSync(source.path, 'utf8');
  const blocks = [...text.matchAll(/^```ts( no-run)?\n([\s\S]*?)^```$/gm)];
  if (blocks.every((block) => block[1] !== undefined)) continue;
  describe(source.label, () => {
    blocks.forEach((block, index) => {
      if (block[1] !== undefined) return;
      const line = text.slice(0, block.index).split('\n').length;
      const base = `${out}${source.stem}-${index + 1}`;
      const code = `${block[2]}\nexport {};\n`;
      writeFileSync(`${base}.ts`, code);
      it(`sample ${index + 1} (line ${line}) as TypeScript`, async () => {
        await import(/* @vite-ignore */ `${base}.ts`);
      });
      it.concurrent(`sample ${index + 1} (line ${line}) as JavaScript on Node.js ${process.versions.node}`, async () => {
        const result = await runAsJavaScript(code, `${base}.mjs`);
        expect(result.code, result.output).toBe(0);
      });
    });
  });
}
