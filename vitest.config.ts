import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = readdirSync(`${root}packages`).filter((name) => existsSync(`${root}packages/${name}/test`));
const examples = existsSync(`${root}examples`) ? readdirSync(`${root}examples`).filter((name) => existsSync(`${root}examples/${name}/test`)) : [];

// Tests import every package by its npm name; this resolves those names to the TypeScript
// sources, so `npm test` needs no build step and always runs the code in the work tree.
const alias = [{ find: /^@shallot\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` }];

export default defineConfig({
  resolve: { alias },
  test: {
    // Builds dist/ (a no-op when it is up to date) for the tests that run what users run.
    globalSetup: ['./vitest.global-setup.ts'],
    projects: [
      ...packages.map((name) => ({
        resolve: { alias },
        test: {
          name,
          root: `${root}packages/${name}`,
          include: ['test/**/*.test.ts'],
          environment: 'node',
          testTimeout: 15_000,
          hookTimeout: 15_000,
          // A package whose tests need a service (Redis) checks for it once, in its global setup.
          ...(existsSync(`${root}packages/${name}/test/global-setup.ts`) ? { globalSetup: [`test/global-setup.ts`] } : {}),
        },
      })),
      ...examples.map((name) => ({
        resolve: { alias },
        test: { name: `examples/${name}`, root: `${root}examples/${name}`, include: ['test/**/*.test.ts'], environment: 'node', testTimeout: 15_000, hookTimeout: 15_000 },
      })),
      {
        resolve: { alias },
        // The plain-JavaScript runs of the samples are child processes: two at a time on two cores.
        test: { name: 'docs', root: `${root}docs`, include: ['**/*.test.ts'], environment: 'node', testTimeout: 30_000, maxConcurrency: 2 },
      },
      // Any other test file in the repository (an acceptance suite, say) runs too.
      {
        resolve: { alias },
        test: {
          name: 'workspace',
          root,
          include: ['**/*.{test,spec}.?(c|m)[jt]s'],
          exclude: ['**/node_modules/**', '**/dist/**', 'packages/**', 'docs/**', 'bench/**', 'examples/**'],
          environment: 'node',
          testTimeout: 15_000,
          hookTimeout: 15_000,
        },
      },
    ],
  },
});
