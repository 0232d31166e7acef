// What docs/samples.test.ts and docs/redis-samples.test.ts share: a guide's ```ts block as plain
// JavaScript (types stripped with TypeScript's transpileModule, every other syntax kept as
// written: target ESNext, so an `await using` stays and fails on Node 20 as it would for a
// reader), run with `node` in a child process against the built packages (dist/).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Strips the types of a sample, nothing else. */
export function toJavaScript(code: string, fileName: string): string {
  const result = ts.transpileModule(code, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ESNext, verbatimModuleSyntax: false, sourceMap: false },
  });
  const problems = (result.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  if (problems.length > 0) throw new Error(`${fileName}: ${problems.join('; ')}`);
  return result.outputText;
}

/** Writes `code` as JavaScript to `path` (a .mjs file) and runs it with this Node.js. */
export function runAsJavaScript(code: string, path: string): Promise<{ code: number; output: string; pid: number | undefined }> {
  writeFileSync(path, toJavaScript(code, path.replace(/\.mjs$/, '.ts')));
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [path], { cwd: root, timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}${stderr}`, pid: child.pid });
    });
  });
}
