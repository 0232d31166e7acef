import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cache } from '@shallot/cache';
import { circuitBreaker, fallback } from '@shallot/circuit-breaker';
import { defineMiddleware, type Middleware } from '@shallot/core';
import { hedge } from '@shallot/hedge';
import { tls } from '@shallot/mtls';
import { concurrencyLimit, rateLimit } from '@shallot/rate-limit';
import { retry } from '@shallot/retry';
import { chaos, runMiddlewareConformance, type ConformanceOptions } from '@shallot/testing';
import { timeout } from '@shallot/timeout';
import { metrics, requestId, tracing } from '@shallot/tracing';
import { describe, expect, it } from 'vitest';

// Every middleware of this repository, with the options it needs and the bad options it must refuse.
const middlewares: Entry[] = [
  ['timeout', timeout, { options: { totalMs: 10_000 }, invalidOptions: [{}, { totalMs: -1 }, { notAnOption: 1 }] }],
  ['retry', retry, { invalidOptions: [{ maxAttempts: 0 }, { notAnOption: 1 }] }],
  ['hedge', hedge, { options: { delayMs: 10 }, invalidOptions: [{}, { delayMs: 10, maxHedges: 0 }] }],
  ['circuitBreaker', circuitBreaker, { invalidOptions: [{ failureThreshold: 0 }, { notAnOption: 1 }] }],
  ['fallback', fallback, { options: { handler: () => new Response('fallback') }, invalidOptions: [{}, { handler: 'not a function' }] }],
  ['rateLimit', rateLimit, { options: { limit: 1_000, intervalMs: 1_000 }, invalidOptions: [{ limit: 0, intervalMs: 1_000 }, { intervalMs: 1_000 }] }],
  ['concurrencyLimit', concurrencyLimit, { options: { max: 4 }, invalidOptions: [{ max: 0 }, {}] }],
  ['cache', cache, { invalidOptions: [{ maxSizeBytes: -1 }, { notAnOption: 1 }] }],
  ['tracing', tracing, { invalidOptions: [{ captureRequestHeaders: ['not a header'] }, { notAnOption: 1 }] }],
  ['requestId', requestId, { invalidOptions: [{ header: 'not a header' }, { notAnOption: 1 }] }],
  ['metrics', metrics, { invalidOptions: [{ maxHosts: 0 }, { notAnOption: 1 }] }],
  ['tls', tls, { invalidOptions: [{ minVersion: 'SSLv3' }, { notAnOption: 1 }] }],
  ['chaos', chaos, { invalidOptions: [{ failureRate: 2 }, { notAnOption: 1 }] }],
];

type Entry = [string, (options?: any) => Middleware<any, any>, ConformanceOptions<any>];

// Packages that other branches bring; each is checked as soon as its folder is in the workspace.
const arriving: Record<string, (mod: Record<string, any>) => Entry[]> = {
  auth: (m) => [['auth', m.auth, { options: { apiKey: 'conformance-key' }, invalidOptions: [{ notAnOption: 1 }] }]],
  hooks: (m) => [['hooks', (options?: unknown) => m.hooks(new m.HookRegistry(), options), { invalidOptions: [{ notAnOption: 1 }] }]],
  'load-balancer': (m) => [['loadBalancer', m.loadBalancer, { options: ({ url }: { url: string }) => ({ endpoints: [url] }), invalidOptions: [{ notAnOption: 1 }] }]],
  cookies: (m) => [['cookies', m.cookies, { invalidOptions: [{ notAnOption: 1 }] }]],
};

// Packages with no middleware of their own.
const withoutMiddleware: Record<string, string> = {
  core: 'the onion itself',
  cli: 'the command line',
  testing: 'chaos is listed above',
  redis: 'stores for the rate limiter, the breaker and the cache',
  'connection-manager': 'a preset stack of the layers listed here',
  reliability: 'the chaos soak and the property tests (private)',
};

const packagesDir = fileURLToPath(new URL('../..', import.meta.url));

describe('runMiddlewareConformance', () => {
  for (const [name, factory, options] of middlewares) {
    it(`${name} keeps every rule`, async () => {
      const report = await runMiddlewareConformance(factory, options);
      expect(report.checks.map((c) => c.rule).sort()).toEqual(['abort', 'close', 'deadline', 'next-protocol', 'options', 'passes-response']);
    });
  }

  for (const [dir, entries] of Object.entries(arriving)) {
    if (!existsSync(`${packagesDir}${dir}/src/index.ts`)) continue;
    it(`@shallot/${dir}'s middlewares keep every rule`, async () => {
      const mod = (await import(/* @vite-ignore */ `@shallot/${dir}`)) as Record<string, any>;
      for (const [, factory, options] of entries(mod)) await runMiddlewareConformance(factory, options);
    });
  }

  it('covers a middleware of every package in this repository', () => {
    // A new middleware package joins the lists above (or `withoutMiddleware`, with the reason it has none).
    const covered: Record<string, readonly string[]> = {
      timeout: ['timeout'],
      retry: ['retry'],
      hedge: ['hedge'],
      'circuit-breaker': ['circuitBreaker', 'fallback'],
      'rate-limit': ['rateLimit', 'concurrencyLimit'],
      cache: ['cache'],
      tracing: ['tracing', 'requestId', 'metrics'],
      mtls: ['tls'],
    };
    const packages = readdirSync(packagesDir);
    const names = new Set(middlewares.map(([n]) => n));
    for (const pkg of packages) {
      if (withoutMiddleware[pkg] !== undefined || arriving[pkg] !== undefined) continue;
      expect(covered[pkg], `packages/${pkg} has no entry in the conformance list`).toBeDefined();
      for (const n of covered[pkg] ?? []) expect(names.has(n), n).toBe(true);
    }
  });

  it('reports each broken rule', async () => {
    // A layer that swallows errors into a 200, calls next() twice, and keeps a timer after close().
    let kept: NodeJS.Timeout | undefined;
    const careless = (options?: unknown): Middleware => {
      if (options !== undefined && typeof options === 'object' && options !== null && Object.keys(options).length > 0) return careless();
      return defineMiddleware(
        async function careless(_ctx, next) {
          kept ??= setInterval(() => {}, 60_000);
          const first = next();
          await next().catch(() => undefined);
          try {
            await first;
            return new Response('replaced', { status: 200 });
          } catch {
            return new Response('swallowed', { status: 200 });
          }
        },
        { name: 'careless' },
      );
    };
    const report = await runMiddlewareConformance(careless, { throwOnFailure: false, settleWithinMs: 1_000 });
    clearInterval(kept);
    expect(report.ok).toBe(false);
    const broken = Object.fromEntries(report.checks.filter((c) => !c.ok).map((c) => [c.rule, c.problem]));
    expect(Object.keys(broken).sort()).toEqual(['abort', 'close', 'next-protocol', 'options', 'passes-response']);
    expect(broken['next-protocol']).toMatch(/called next\(\) again with the same context/);
    expect(broken.options).toMatch(/did not throw/);
    expect(broken['passes-response']).toMatch(/x-conformance header was lost|body "replaced"/);
    expect(broken.close).toMatch(/1 Timeout made while it ran still active/);
    await expect(runMiddlewareConformance(careless)).rejects.toThrow(/^careless breaks \d conformance rules: /);
    clearInterval(kept);
  });
});
