import { getEventListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { BasicTracerProvider, type ReadableSpan, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { type Client, isShallotError, nodeFetchTransport, undiciTransport } from '@shallot/core';
import { type ChaosOutcomeKind, type ChaosRates, type ChaosUpstream, createChaosUpstream, seededRandom, testCertificates } from '@shallot/testing';
import { type FullStackSettings, fullStack } from './full-stack.js';
import { heapAfterGc } from './heap.js';
import { planRequest } from './request-mix.js';
import { activeResources, settleResources } from './resources.js';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Requests to send. @default 3_000 */
  requests?: number;
  /** Requests in flight at once. @default 64 */
  concurrency?: number;
  /** No new request starts after this long; those in flight finish (each is bounded by the total timeout). @default 60_000 */
  maxDurationMs?: number;
  /** @default 'undici' */
  transport?: 'undici' | 'node-fetch';
  /** Seed of the upstream's faults and of the request mix. @default 1 */
  seed?: number;
  /** Fault rates of the upstream (see `createChaosUpstream`). */
  rates?: ChaosRates;
  /** Serve the upstream over TLS, with `tls({ ca })` in the stack. @default false */
  https?: boolean;
  /** `Retry-After` of the upstream's 429s, in seconds. @default 1 */
  retryAfterSeconds?: number;
  /** The body of the upstream's `bigBody` fault. @default 10 MiB */
  bigBodyBytes?: number;
  /** The pieces of a trickled body and the pause between them. @default { chunks: 5, chunkDelayMs: 20 } */
  trickle?: { chunks?: number; chunkDelayMs?: number };
  /**
   * Measure the heap after a forced GC once `warmUpRequests` have settled, and again at the end
   * (both with the client open), and once more after `close()`. @default false
   */
  measureHeap?: boolean;
  /** Requests before the first heap measurement. @default a tenth of `requests` */
  warmUpRequests?: number;
  /** Layer options, over the soak's own (see {@link soakStack}). */
  stack?: FullStackSettings;
  /** Called after each settled request. */
  onProgress?: (settled: number, total: number) => void;
}

/** What {@link runSoak} observed. */
export interface SoakReport {
  transport: 'undici' | 'node-fetch';
  https: boolean;
  /** Requests started (fewer than asked when `maxDurationMs` ran out). */
  requests: number;
  concurrency: number;
  durationMs: number;
  stoppedByTime: boolean;
  /** The layers, outermost first. */
  layers: readonly string[];
  /** Requests by method and kind (`GET`, `GET cacheable`, `POST`, `POST with Idempotency-Key`...). */
  sent: Record<string, number>;
  /** How each request settled: `status 200`, `ERR_TIMEOUT (attempt)`, `ERR_NETWORK`, `caller abort`... */
  outcomes: Record<string, number>;
  /** How reading each response body ended: `read`, or the error as in `outcomes`. */
  bodies: Record<string, number>;
  /** Requests whose promise settled other than once (never, or twice): must be 0. */
  notSettledOnce: number;
  /** Settlements that were neither a Response, a shallot error, nor the caller's own abort reason: must be 0. */
  untyped: number;
  /** The first few untyped settlements, printed. */
  untypedSamples: string[];
  /** Faults the upstream injected by kind, over every arrival (retries and hedges included). */
  faults: Record<ChaosOutcomeKind, number>;
  /** Requests that reached the upstream, every attempt counted. */
  arrivals: number;
  /** POSTs without an Idempotency-Key: sent, that reached the upstream, and that reached it more than once (must be 0). */
  posts: { sent: number; arrived: number; duplicates: number };
  /** What was left after `close()`: must all be 0 / empty. */
  leaks: { serverConnections: number; resources: Record<string, number>; signalListeners: number; total: number };
  /** Heap in use after forced GCs, in bytes, when `measureHeap` was set. */
  heap?: { afterWarmUp: number; atEnd: number; afterClose: number; growth: number };
  /** Spans the tracer finished. */
  spans: number;
  /** Unhandled promise rejections during the run: must be 0. */
  unhandledRejections: number;
}

/** A span exporter that counts and forgets: tracing does all its work, nothing piles up. */
class CountingExporter implements SpanExporter {
  count = 0;
  export(spans: ReadableSpan[], done: Parameters<SpanExporter['export']>[1]): void {
    this.count += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
}

/** The tag header that counts arrivals per request at the upstream. */
const tagHeader = 'x-soak-id';

function describe(error: unknown, ownReason: unknown): string {
  if (ownReason !== undefined && error === ownReason) return 'caller abort';
  if (isShallotError(error)) {
    const kind = (error as { kind?: unknown }).kind;
    return typeof kind === 'string' ? `${error.code} (${kind})` : error.code;
  }
  return `untyped ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
}

const bump = (counts: Record<string, number>, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * The soak's layer options: timeouts long enough for a loaded machine's slowest answers and
 * short enough that hung sockets cost little, a breaker that trips on long runs of failures and
 * recovers fast, a small cache, and a rate limit that sometimes waits.
 */
export function soakStack(overrides: FullStackSettings = {}): FullStackSettings {
  return {
    totalTimeout: { totalMs: 8_000 },
    attemptTimeout: { attemptMs: 2_500, readMs: 2_000 },
    retry: { maxAttempts: 3, backoff: { kind: 'exponential', initialMs: 10, maxMs: 100 }, maxRetryAfterMs: 1_500 },
    hedge: { delayMs: 300 },
    circuitBreaker: { failureThreshold: 25, recoveryTimeoutMs: 250, probeLeaseMs: 8_000 },
    rateLimit: { limit: 4_000, intervalMs: 1_000, burst: 400, maxWaitMs: 1_000 },
    cache: { maxSizeBytes: 2 * 1024 * 1024 },
    ...overrides,
  };
}

/**
 * Drives the full stack (every middleware package) against a chaos upstream: `requests`
 * requests at `concurrency`, a seeded mix of GETs (some cacheable), POSTs with and without an
 * Idempotency-Key, PUTs and DELETEs, a tenth with `throwHttpErrors`, one in a hundred aborted
 * by its caller, the rest sharing one long-lived caller signal. Then it closes the client and
 * reports how every request settled, what the upstream injected, whether a POST without a key
 * arrived twice, and what was left behind (server connections, active handles and timers,
 * listeners on the caller signals).
 *
 * @example
 * const report = await runSoak({ requests: 3_000, concurrency: 64, transport: 'node-fetch' });
 * report.posts.duplicates; // 0
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const total = options.requests ?? 3_000;
  const seed = options.seed ?? 1;
  const certs = options.https === true ? testCertificates() : undefined;
  const upstream = await createChaosUpstream({
    seed,
    ...(options.rates === undefined ? {} : { rates: options.rates }),
    retryAfterSeconds: options.retryAfterSeconds ?? 1,
    ...(options.bigBodyBytes === undefined ? {} : { bigBodyBytes: options.bigBodyBytes }),
    trickle: { chunks: options.trickle?.chunks ?? 5, chunkDelayMs: options.trickle?.chunkDelayMs ?? 20 },
    tagHeader,
    maxTags: Math.max(1, total),
    ...(certs === undefined ? {} : { tls: { key: certs.key, cert: certs.cert } }),
  });
  let unhandled = 0;
  const onUnhandled = (): void => {
    unhandled++;
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const report = await drive(upstream, options, certs?.ca);
    report.unhandledRejections = unhandled;
    return report;
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await upstream.close();
  }
}

/**
 * How long a caller waits after a fail-fast error (an open circuit, a rate limit) before its
 * next request, as a well-behaved caller honours `retryAfterMs`: between 20 and 250 ms. Without
 * it, 128 callers would spin through thousands of instant failures while a circuit is open.
 */
function callerPause(error: unknown): number {
  const after = isShallotError(error) ? (error as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof after === 'number' ? Math.min(250, Math.max(20, after)) : 0;
}

/** Sleeps `ms`, or less when `cancel()` is called (so no timer outlives the run). */
function cancellableSleep(ms: number): { done: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    done,
    cancel() {
      clearTimeout(timer);
      wake();
    },
  };
}

async function drive(upstream: ChaosUpstream, options: SoakOptions, ca: string | undefined): Promise<SoakReport> {
  const total = options.requests ?? 3_000;
  const concurrency = options.concurrency ?? 64;
  const maxDurationMs = options.maxDurationMs ?? 60_000;
  const transportName = options.transport ?? 'undici';
  const seed = options.seed ?? 1;
  const warmUp = options.measureHeap === true ? Math.min(total, options.warmUpRequests ?? Math.ceil(total / 10)) : 0;
  const exporter = new CountingExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const baseline = activeResources();
  const shared = new AbortController();
  const ownSignals: AbortSignal[] = [];

  const settings = soakStack({ ...options.stack, tracing: { tracerProvider, ...options.stack?.tracing } });
  if (ca !== undefined) settings.tls = { ca, ...options.stack?.tls };
  const stack = await fullStack(settings);
  const transport = transportName === 'undici' ? undiciTransport({ maxSockets: concurrency }) : nodeFetchTransport({ maxSockets: concurrency });
  const client: Client<any> = stack.builder.build({ transport });
  // However a request ends, it must end within its total timeout: past this, the soak stops
  // waiting and counts what never settled.
  const graceMs = (settings.totalTimeout?.totalMs ?? 10_000) + 5_000;

  const draw = seededRandom(seed ^ 0x5eed5eed);
  const settledCount = new Uint8Array(total);
  const report: SoakReport = {
    transport: transportName,
    https: ca !== undefined,
    requests: 0,
    concurrency,
    durationMs: 0,
    stoppedByTime: false,
    layers: stack.layers,
    sent: {},
    outcomes: {},
    bodies: {},
    notSettledOnce: 0,
    untyped: 0,
    untypedSamples: [],
    faults: upstream.stats().injected,
    arrivals: 0,
    posts: { sent: 0, arrived: 0, duplicates: 0 },
    leaks: { serverConnections: 0, resources: {}, signalListeners: 0, total: 0 },
    spans: 0,
    unhandledRejections: 0,
  };
  const unkeyedPosts: number[] = [];
  const started = Date.now();
  let next = 0;
  let settled = 0;

  const record = (key: string, counts: Record<string, number>): void => {
    bump(counts, key);
    if (key.startsWith('untyped ')) {
      report.untyped++;
      if (report.untypedSamples.length < 10) report.untypedSamples.push(key);
    }
  };

  /** Runs request `i`; resolves to how long its caller waits before the next (a fail-fast error's `retryAfterMs`). */
  async function one(i: number): Promise<number> {
    const planned = planRequest(i, draw, tagHeader, seed);
    bump(report.sent, planned.kind);
    if (planned.kind === 'POST') unkeyedPosts.push(i);
    const init = { ...planned.init };
    let ownReason: unknown;
    let timer: NodeJS.Timeout | undefined;
    if (planned.abortAfterMs !== undefined) {
      const controller = new AbortController();
      ownReason = new DOMException(`soak: request ${i} aborted by its caller`, 'AbortError');
      timer = setTimeout(() => controller.abort(ownReason), planned.abortAfterMs);
      init.signal = controller.signal;
      ownSignals.push(controller.signal);
    } else init.signal = shared.signal;

    let outcome: string;
    let pause = 0;
    try {
      const response = await client.request(planned.method, `${upstream.nextOrigin()}${planned.path}`, init);
      outcome = `status ${response.status}`;
      try {
        await response.arrayBuffer();
        record('read', report.bodies);
      } catch (error) {
        record(describe(error, ownReason), report.bodies);
      }
    } catch (error) {
      outcome = describe(error, ownReason);
      pause = callerPause(error);
    } finally {
      clearTimeout(timer);
    }
    settledCount[i] = (settledCount[i] ?? 0) + 1;
    record(outcome, report.outcomes);
    settled++;
    options.onProgress?.(settled, total);
    return pause;
  }

  async function worker(limit: number): Promise<void> {
    while (next < limit) {
      if (Date.now() - started > maxDurationMs) {
        report.stoppedByTime = true;
        return;
      }
      const pause = await one(next++);
      if (pause > 0) await sleep(pause);
    }
  }

  /** Runs requests up to `limit`; false when some were still pending when the grace ran out. */
  async function runUpTo(limit: number): Promise<boolean> {
    const watchdog = cancellableSleep(Math.max(0, maxDurationMs - (Date.now() - started)) + graceMs);
    let finished = false;
    const workers = Promise.all(Array.from({ length: concurrency }, () => worker(limit))).then(() => {
      finished = true;
    });
    await Promise.race([workers, watchdog.done]);
    watchdog.cancel();
    return finished;
  }

  try {
    if (warmUp > 0 && (await runUpTo(warmUp))) {
      report.heap = { afterWarmUp: await heapAfterGc(), atEnd: 0, afterClose: 0, growth: 0 };
    }
    const finished = await runUpTo(total);
    report.durationMs = Date.now() - started;
    report.requests = next;
    if (finished && report.heap !== undefined) report.heap.atEnd = await heapAfterGc();
  } finally {
    await client.close();
    await tracerProvider.shutdown();
  }
  for (let i = 0; i < report.requests; i++) if (settledCount[i] !== 1) report.notSettledOnce++;

  // What the close must have released: the server sees every connection go, no handle or
  // timer is left above the baseline, and no listener stays on a caller signal.
  const end = Date.now() + 5_000;
  while (upstream.connections().open > 0 && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
  report.leaks.serverConnections = upstream.connections().open;
  report.leaks.resources = await settleResources(baseline);
  report.leaks.signalListeners = [shared.signal, ...ownSignals].reduce((sum, signal) => sum + getEventListeners(signal, 'abort').length, 0);
  report.leaks.total = report.leaks.serverConnections + Object.values(report.leaks.resources).reduce((a, b) => a + b, 0) + report.leaks.signalListeners;
  if (report.heap !== undefined && report.heap.atEnd > 0) {
    report.heap.afterClose = await heapAfterGc();
    report.heap.growth = (report.heap.atEnd - report.heap.afterWarmUp) / report.heap.afterWarmUp;
  }

  const stats = upstream.stats();
  report.faults = stats.injected;
  report.arrivals = stats.arrivals;
  report.posts.sent = unkeyedPosts.length;
  for (const i of unkeyedPosts) {
    const arrived = upstream.arrivals(i);
    if (arrived > 0) report.posts.arrived++;
    if (arrived > 1) report.posts.duplicates++;
  }
  report.spans = exporter.count;
  return report;
}
