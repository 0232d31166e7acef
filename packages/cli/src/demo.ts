import type { Client, Middleware } from '@shallot/core';
import type { MetricsMiddleware } from '@shallot/tracing';
import type { StackConfig } from './config-schema.js';
import { type DemoUpstream, startDemoUpstream } from './demo-upstream.js';
import { formatMs } from './load-report.js';
import type { Output } from './output.js';
import { stackFromConfig } from './stack-from-config.js';
import { table } from './table.js';

/**
 * The stack the demo runs, outermost first, as a config file would write it: the recommended
 * order of layers (see docs/concepts.md), with short delays so the demo takes seconds.
 */
export const demoStack: StackConfig = {
  transport: 'undici',
  middlewares: [
    { use: 'requestId' },
    { use: 'metrics' },
    { use: 'cache' },
    { use: 'timeout', totalMs: 10_000 },
    { use: 'rateLimit', limit: 10, intervalMs: 1_000, burst: 3 },
    { use: 'retry', maxAttempts: 3, backoff: { kind: 'exponential', initialMs: 50, maxMs: 500 } },
    { use: 'circuitBreaker', failureThreshold: 3, recoveryTimeoutMs: 1_000 },
    { use: 'hedge', delayMs: 150 },
    { use: 'timeout', attemptMs: 2_000 },
  ],
};

interface Tally {
  requests: number;
  statuses: Map<string, number>;
  cache: Map<string, number>;
  retries: number;
  retryWaitMs: number;
  transitions: string[];
  limiterWaits: number;
  limiterWaitedMs: number;
  hedges: number;
  hedgeWins: number;
  redirects: number;
}

type Ctx = Record<string, Record<string, unknown> | undefined>;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `shallot demo`: a flaky upstream on loopback, the demo stack, and what each layer did. */
export async function demoCommand(output: Output): Promise<number> {
  const c = output.color;
  const upstream: DemoUpstream = await startDemoUpstream();
  const tally: Tally = { requests: 0, statuses: new Map(), cache: new Map(), retries: 0, retryWaitMs: 0, transitions: [], limiterWaits: 0, limiterWaitedMs: 0, hedges: 0, hedgeWins: 0, redirects: 0 };
  const failures: string[] = [];
  const expect = (ok: boolean, what: string): void => {
    if (!ok) failures.push(what);
  };
  let metrics: MetricsMiddleware | undefined;
  const started = performance.now();

  const onMiddleware = (middleware: Middleware<any, any>, entry: { use: string }): void => {
    const m = middleware as Middleware & Record<string, unknown>;
    if (entry.use === 'metrics') metrics = middleware as MetricsMiddleware;
    if (typeof m.onRetry === 'function') {
      (m.onRetry as (l: (e: { attempt: number; delayMs: number; response?: Response; error?: unknown }) => void) => void)((event) => {
        tally.retries++;
        tally.retryWaitMs += event.delayMs;
        const why = event.response === undefined ? String((event.error as { code?: string })?.code ?? event.error) : `${event.response.status}${event.response.headers.has('retry-after') ? ` with Retry-After: ${event.response.headers.get('retry-after')}` : ''}`;
        output.out(`      ${c.yellow('retry')}: attempt ${event.attempt} got ${why}, waiting ${formatMs(event.delayMs)}`);
      });
    }
    if (typeof m.onStateChange === 'function') {
      (m.onStateChange as (l: (e: { key: string; from: string; to: string }) => void) => void)((change) => {
        tally.transitions.push(`${change.from} → ${change.to}`);
        const colour = change.to === 'open' ? c.red : change.to === 'closed' ? c.green : c.yellow;
        output.out(`      ${c.magenta('circuit breaker')}: ${change.key} ${change.from} → ${colour(change.to)}`);
      });
    }
  };

  const client: Client<any> = stackFromConfig({ ...demoStack, baseUrl: upstream.server.url }, { onMiddleware });
  let n = 0;

  async function send(path: string): Promise<Ctx | undefined> {
    const index = ++n;
    tally.requests++;
    const t0 = performance.now();
    const label = `${c.dim(`#${String(index).padStart(2)}`)} GET ${path.padEnd(7)}`;
    try {
      const { response, context } = await client.exchange('GET', path);
      await response.arrayBuffer();
      const ctx = context as unknown as Ctx;
      const status = response.status;
      tally.statuses.set(String(status), (tally.statuses.get(String(status)) ?? 0) + 1);
      const notes: string[] = [];
      const cache = ctx.cache?.status as string | undefined;
      if (cache !== undefined) {
        tally.cache.set(cache, (tally.cache.get(cache) ?? 0) + 1);
        notes.push(cache === 'MISS' ? c.dim('cache MISS') : `cache ${cache === 'HIT' ? c.green(cache) : c.cyan(cache)}`);
      }
      const attempts = Number(ctx.retry?.attempt ?? 1);
      if (attempts > 1) notes.push(`${attempts} attempts`);
      const waited = Number(ctx.rateLimit?.waitedMs ?? 0);
      if (waited > 0) {
        tally.limiterWaits++;
        tally.limiterWaitedMs += waited;
        notes.push(`waited ${formatMs(waited)} for a rate-limit token`);
      }
      if (ctx.hedge?.hedged === true) {
        tally.hedges++;
        const winner = Number(ctx.hedge.winner ?? 0);
        if (winner > 0) tally.hedgeWins++;
        notes.push(`hedged: ${String(ctx.hedge.copies)} copies, copy ${winner + 1} answered first`);
      }
      if (response.redirected) {
        tally.redirects++;
        notes.push(`redirected to ${new URL(response.url).pathname}`);
      }
      const state = ctx.circuitBreaker?.state as string | undefined;
      if (state !== undefined && state !== 'closed') notes.push(`breaker ${state}`);
      const statusText = status >= 500 ? c.red(String(status)) : status >= 400 ? c.yellow(String(status)) : c.green(String(status));
      output.out(`${label} ${statusText} ${formatMs(performance.now() - t0).padStart(8)}  ${notes.join(', ')}`);
      return ctx;
    } catch (error) {
      const code = String((error as { code?: unknown }).code ?? (error as Error).name);
      tally.statuses.set(code, (tally.statuses.get(code) ?? 0) + 1);
      output.out(`${label} ${c.red(code)} ${formatMs(performance.now() - t0).padStart(8)}  ${c.dim((error as Error).message)}`);
      return undefined;
    }
  }

  const scene = (title: string, why: string): void => {
    output.out('');
    output.out(`${c.bold(title)} ${c.dim(`- ${why}`)}`);
  };

  try {
    output.out(`${c.bold('shallot demo')}: a flaky upstream on ${upstream.server.url}, and this stack, outermost first:`);
    output.out(`  ${client.describe().map((l) => l.name).join(' → ')}`);

    scene('1. cache', 'a miss, a hit, then max-age=1 passes and a 304 revalidates the entry');
    const first = await send('/items');
    const second = await send('/items');
    output.out(c.dim('      (waiting 1.1 s for max-age=1 to pass)'));
    await sleep(1_100);
    const third = await send('/items');
    expect(first?.cache?.status === 'MISS' && second?.cache?.status === 'HIT' && third?.cache?.status === 'REVALIDATED', 'cache: MISS, HIT, REVALIDATED');

    scene('2. retry', '/flaky answers 503 twice: retried with exponential backoff and jitter');
    const flaky = await send('/flaky');
    expect(Number(flaky?.retry?.attempt) === 3, 'retry: /flaky answered on the third attempt');

    scene('3. Retry-After', '/quota answers 429 with Retry-After: 1, and retry waits as told');
    const quota = await send('/quota');
    expect(Number(quota?.retry?.attempt) === 2, 'retry: /quota answered after Retry-After');

    scene('4. rate limit', '6 requests at once through a limit of 10 per second with a burst of 3');
    const burst = await Promise.all(Array.from({ length: 6 }, () => send('/burst')));
    expect(burst.some((ctx) => Number(ctx?.rateLimit?.waitedMs ?? 0) > 0), 'rate limit: some requests waited');
    output.out(c.dim('      (waiting 0.4 s for the bucket to refill)'));
    await sleep(400);

    scene('5. hedge', '/slow takes 600 ms the first time; after 150 ms a copy is sent and answers first');
    const slow = await send('/slow');
    expect(slow?.hedge?.hedged === true && Number(slow.hedge.winner) === 1, 'hedge: the copy answered first');

    scene('6. redirect', '/old is a 301 to /items, followed by the transport');
    await send('/old');
    expect(tally.redirects === 1, 'redirect: /old followed');

    scene('7. circuit breaker', '/down answers 503: three failures open the circuit, which then fails fast');
    await send('/down');
    const refused = await send('/down');
    expect(refused === undefined && tally.transitions.includes('closed → open'), 'circuit breaker: opened, then refused a request');
    upstream.heal();
    output.out(c.dim('      (the upstream heals; waiting 1.1 s for recoveryTimeoutMs)'));
    await sleep(1_100);
    const probe = await send('/down');
    expect(probe?.circuitBreaker?.state === 'closed' && tally.transitions.includes('half-open → closed'), 'circuit breaker: a probe closed it again');

    output.out('');
    output.out(c.bold('summary'));
    const host = metrics?.snapshot().hosts[new URL(upstream.server.url).host];
    const rows: [string, string][] = [
      ['requests', `${tally.requests}: ${[...tally.statuses].map(([s, k]) => `${s} × ${k}`).join(', ')}`],
      ['cache', [...tally.cache].map(([s, k]) => `${s} ${k}`).join(', ')],
      ['retry', `${tally.retries} retries, ${formatMs(tally.retryWaitMs)} of waits`],
      ['rate limit', `${tally.limiterWaits} requests waited, ${formatMs(tally.limiterWaitedMs)} in all`],
      ['hedge', `${tally.hedges} hedged, ${tally.hedgeWins} won by the copy`],
      ['circuit breaker', tally.transitions.join(', ') || 'no change'],
      ['redirects', String(tally.redirects)],
    ];
    if (host !== undefined) rows.push(['metrics', `${host.attempts} attempts reached the upstream; latency p50 ${formatMs(host.latencyMs.p50)}, p99 ${formatMs(host.latencyMs.p99)}`]);
    output.out(table(['layer', 'what it did'], rows, c));
    output.out(`${c.dim(`finished in ${((performance.now() - started) / 1000).toFixed(1)} s`)}`);
    if (failures.length > 0) {
      output.err(`shallot demo: not every layer did what it is there for: ${failures.join('; ')}`);
      return 1;
    }
    output.out(c.green('every layer did what it is there for.'));
    return 0;
  } finally {
    await client.close();
    await upstream.close();
  }
}
