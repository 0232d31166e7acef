// docs/configuration.md is generated from the zod schemas (npm run docs:config); this fails when
// a schema changed and the committed reference was not regenerated.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

it('docs/configuration.md matches the zod schemas (run npm run docs:config after changing an option)', async () => {
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, ['scripts/config-docs.mjs', '--check'], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: `${stdout}${stderr}` });
    });
  });
  expect(result.output).toContain('docs/configuration.md matches the schemas');
  expect(result.code).toBe(0);
});
