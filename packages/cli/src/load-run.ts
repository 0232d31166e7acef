import type { Client, RequestOptions } from '@shallot/core';

/** Counts of what the layers did over a load run, read from each request's context. */
export interface LayerCounts {
  /** Requests that took more than one attempt. */
  retried: number;
  /** Attempts beyond the first, over all requests. */
  extraAttempts: number;
  /** Requests by `ctx.cache.status` (`HIT`, `MISS`...). */
  cache: Record<string, number>;
  /** Requests that waited for a rate-limit token. */
  rateLimitWaits: number;
  /** Their waits added up, in ms. */
  rateLimitWaitedMs: number;
  /** Requests that sent a hedge copy. */
  hedged: number;
  /** Requests a hedge copy answered. */
  hedgeWins: number;
  /** Requests refused by an open circuit (`ERR_CIRCUIT_OPEN`). */
  circuitOpen: number;
  /** Times a circuit opened (counted by the caller from `onStateChange`). */
  breakerOpened: number;
  /** Times a circuit closed again. */
  breakerClosed: number;
}

/** Counts all at zero. */
export function createLayerCounts(): LayerCounts {
  return { retried: 0, extraAttempts: 0, cache: {}, rateLimitWaits: 0, rateLimitWaitedMs: 0, hedged: 0, hedgeWins: 0, circuitOpen: 0, breakerOpened: 0, breakerClosed: 0 };
}

/** What a load run measured. */
export interface LoadResult {
  /** Requests that settled. */
  completed: number;
  /** Of those, how many failed with an error instead of a response. */
  errors: number;
  /** From the first request to the last settling, in ms. */
  elapsedMs: number;
  /** Latency of every request that got a response (headers and body read), sorted, in ms. */
  latenciesMs: Float64Array;
  /** Responses by status. */
  statuses: Map<number, number>;
  /** Errors by code (`ERR_TIMEOUT`, `ERR_NETWORK`...) or name. */
  errorCodes: Map<string, number>;
  /** Completions per {@link bucketMs} window since the start. */
  timeline: { ok: number[]; errors: number[] };
  /** The width of a timeline window. */
  bucketMs: number;
  layers: LayerCounts;
  /** Why the run ended. */
  stoppedBy: 'count' | 'duration' | 'signal';
}

/** Where a load run is, for a progress display. */
export interface LoadProgress {
  completed: number;
  errors: number;
  elapsedMs: number;
}

/** What {@link runLoad} does. */
export interface LoadRunOptions {
  client: Client<any>;
  method: string;
  url: string;
  init?: RequestOptions | undefined;
  /** Requests to send in all; `Infinity` with `durationMs`. */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Stop starting requests after this long. */
  durationMs?: number | undefined;
  /** Stop starting requests when this aborts (Ctrl-C). */
  signal?: AbortSignal | undefined;
  /** Called about every `progressEveryMs` while running, and once at the end. */
  onProgress?: ((progress: LoadProgress) => void) | undefined;
  /** @default 100 */
  progressEveryMs?: number | undefined;
  /** Counts to add to (the caller may count layer events into them too). @default fresh counts */
  layers?: LayerCounts | undefined;
}

const bucketMs = 100;

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function bumpAt(list: number[], index: number): void {
  while (list.length <= index) list.push(0);
  list[index] = (list[index] as number) + 1;
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}

/**
 * Sends `requests` requests through `client`, `concurrency` at a time, reading every body, and
 * measures them. The loop does per request only what a plain loop would plus a few counters:
 * the progress callback runs on a timer, never per request.
 */
export async function runLoad(options: LoadRunOptions): Promise<LoadResult> {
  const { client, method, url, init, requests, concurrency, durationMs, signal } = options;
  let latencies = new Float64Array(Math.min(Number.isFinite(requests) ? requests : 1 << 16, 1 << 20));
  let latencyCount = 0;
  const statuses = new Map<number, number>();
  const errorCodes = new Map<string, number>();
  const timeline = { ok: [] as number[], errors: [] as number[] };
  const layers = options.layers ?? createLayerCounts();
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let stoppedBy: LoadResult['stoppedBy'] = 'count';
  const start = performance.now();
  const deadline = durationMs === undefined ? Infinity : start + durationMs;

  const progress = (): LoadProgress => ({ completed, errors, elapsedMs: performance.now() - start });
  const timer = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress?.(progress()), options.progressEveryMs ?? 100);
  timer?.unref();

  function record(latency: number): void {
    if (latencyCount === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[latencyCount++] = latency;
  }

  async function worker(): Promise<void> {
    for (;;) {
      if (issued >= requests) return;
      if (signal?.aborted === true) {
        stoppedBy = 'signal';
        return;
      }
      const began = performance.now();
      if (began >= deadline) {
        stoppedBy = 'duration';
        return;
      }
      issued++;
      try {
        const { response, context } = await client.exchange(method, url, init);
        await response.arrayBuffer();
        const ended = performance.now();
        record(ended - began);
        bump(statuses, response.status);
        bumpAt(timeline.ok, Math.floor((ended - start) / bucketMs));
        const ctx = context as Record<string, { attempt?: number; status?: string; waitedMs?: number; hedged?: boolean; winner?: number } | undefined>;
        const attempts = ctx.retry?.attempt ?? 1;
        if (attempts > 1) {
          layers.retried++;
          layers.extraAttempts += attempts - 1;
        }
        const cacheStatus = ctx.cache?.status;
        if (cacheStatus !== undefined) layers.cache[cacheStatus] = (layers.cache[cacheStatus] ?? 0) + 1;
        const waited = ctx.rateLimit?.waitedMs ?? 0;
        if (waited > 0) {
          layers.rateLimitWaits++;
          layers.rateLimitWaitedMs += waited;
        }
        if (ctx.hedge?.hedged === true) {
          layers.hedged++;
          if ((ctx.hedge.winner ?? 0) > 0) layers.hedgeWins++;
        }
      } catch (error) {
        errors++;
        const code = errorCode(error);
        if (code === 'ERR_CIRCUIT_OPEN') layers.circuitOpen++;
        bump(errorCodes, code);
        bumpAt(timeline.errors, Math.floor((performance.now() - start) / bucketMs));
      }
      completed++;
    }
  }

  try {
    const workers = Math.max(1, Math.min(concurrency, requests));
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    if (timer !== undefined) clearInterval(timer);
  }
  const elapsedMs = performance.now() - start;
  options.onProgress?.({ completed, errors, elapsedMs });
  const sorted = latencies.slice(0, latencyCount).sort();
  return { completed, errors, elapsedMs, latenciesMs: sorted, statuses, errorCodes, timeline, bucketMs, layers, stoppedBy };
}

/** The value at percentile `p` (0-100) of sorted values, nearest rank. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}
