// Runs every ```ts code block of every guide in docs/ (blocks fenced as ```ts no-run are skipped).
// Each block is a complete module: it imports shallot by package name and stands up its own
// upstream with createTestServer(), so what the guide shows is what this test executes.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const out = `${dir}.samples/`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

for (const file of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
  const text = readFileSync(`${dir}${file}`, 'utf8');
  const blocks = [...text.matchAll(/^```ts( no-run)?\n([\s\S]*?)^```$/gm)];
  if (blocks.every((block) => block[1] !== undefined)) continue;
  describe(file, () => {
    blocks.forEach((block, index) => {
      if (block[1] !== undefined) return;
      const line = text.slice(0, block.index).split('\n').length;
      const path = `${out}${file.replace(/\.md$/, '')}-${index + 1}.ts`;
      writeFileSync(path, `${block[2]}\nexport {};\n`);
      it(`sample ${index + 1} (line ${line})`, async () => {
        await import(/* @vite-ignore */ path);
      });
    });
  });
}
