// Runs every ```ts redis code block of the guides: samples that need a real Redis (at REDIS_URL,
// default redis://127.0.0.1:6379). docs/samples.test.ts leaves them out. Without Redis they are
// skipped, with one line saying why; with CI=true that is a failure. Each sample names its keys
// with a prefix starting `docs-<pid>-`; what they leave behind is removed after each one.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runAsJavaScript } from './sample-runner.js';

const dir = fileURLToPath(new URL('.', import.meta.url));
const out = `${dir}.samples/`;
mkdirSync(out, { recursive: true });
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const redis = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
let unreachable: string | undefined;
redis.on('error', (error: Error) => (unreachable = error.message));
try {
  await redis.connect();
  await redis.ping();
  unreachable = undefined;
} catch (error) {
  unreachable ??= (error as Error).message;
}
if (unreachable !== undefined) {
  if (process.env.CI === 'true') throw new Error(`docs: no Redis answers at ${url} (${unreachable}); CI must provide one`);
  console.warn(`docs: skipping the Redis samples: no Redis answers at ${url} (${unreachable}); start redis-server or set REDIS_URL`);
}

async function removeSampleKeys(pid: number = process.pid): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*docs-${pid}-*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

afterEach(async () => {
  if (unreachable === undefined) await removeSampleKeys();
});
afterAll(() => redis.disconnect());

for (const file of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
  const text = readFileSync(`${dir}${file}`, 'utf8');
  const blocks = [...text.matchAll(/^```ts redis\n([\s\S]*?)^```$/gm)];
  if (blocks.length === 0) continue;
  describe.skipIf(unreachable !== undefined)(`${file} (Redis samples)`, () => {
    blocks.forEach((block, index) => {
      const line = text.slice(0, block.index).split('\n').length;
      const path = `${out}${file.replace(/\.md$/, '')}-redis-${index + 1}.ts`;
      const code = `${block[1]}\nexport {};\n`;
      writeFileSync(path, code);
      it(`Redis sample ${index + 1} (line ${line})`, async () => {
        await import(/* @vite-ignore */ path);
      });
      // As plain JavaScript on this Node.js too, as docs/samples.test.ts runs the others.
      it(`Redis sample ${index + 1} (line ${line}) as JavaScript on Node.js ${process.versions.node}`, async () => {
        const result = await runAsJavaScript(code, path.replace(/\.ts$/, '.mjs'));
        if (result.pid !== undefined) await removeSampleKeys(result.pid);
        expect(result.code, result.output).toBe(0);
      });
    });
  });
}
