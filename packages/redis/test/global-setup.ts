// Runs once before the Redis store tests: finds Redis (REDIS_URL, default redis://127.0.0.1:6379)
// and a redis-server binary (for the tests that start and stop a server of their own), and
// builds the packages the worker processes import (they run the compiled dist/, not the sources).
// Without Redis the tests are skipped, with one line saying why; with CI=true that is a failure.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The Redis URL the tests use; '' when none answers. */
    redisUrl: string;
    /** The redis-server binary; '' when there is none. */
    redisServer: string;
  }
}

async function whyNot(url: string): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause = error));
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return (cause ?? (error as Error)).message;
  } finally {
    client.disconnect();
  }
}

function findBinary(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export async function setup(project: TestProject): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const reason = await whyNot(url);
  const server = findBinary('redis-server');
  const ci = process.env.CI === 'true';
  if (reason !== undefined) {
    if (ci) throw new Error(`@shallot/redis: no Redis answers at ${url} (${reason}); CI must provide one`);
    console.warn(`@shallot/redis: skipping the Redis store tests: no Redis answers at ${url} (${reason}); start redis-server or set REDIS_URL`);
  } else {
    if (server === '') {
      if (ci) throw new Error('@shallot/redis: no redis-server binary on PATH; CI needs one for the outage tests');
      console.warn('@shallot/redis: skipping the outage tests: no redis-server binary on PATH to start and stop');
    }
    // The worker processes import @shallot/* from dist/: bring it up to date with the sources.
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    try {
      execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-b', `${root}packages/redis`], { stdio: 'pipe' });
    } catch (error) {
      // A package mid-edit elsewhere: the workers run the dist/ there is; typecheck reports the errors.
      const output = String((error as { stdout?: unknown }).stdout ?? '').split('\n').slice(0, 5).join('\n');
      console.warn(`@shallot/redis: tsc -b packages/redis failed; the worker processes run the existing dist/\n${output}`);
    }
  }
  project.provide('redisUrl', reason === undefined ? url : '');
  project.provide('redisServer', reason === undefined ? server : '');
}
