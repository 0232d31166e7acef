import { writeFile } from 'node:fs/promises';
import type { Middleware, RequestOptions } from '@shallot/core';
import { redactUrl } from '@shallot/tracing';
import cliProgress from 'cli-progress';
import { htmlReport } from './load-html.js';
import { latencySummary, terminalReport, throughput } from './load-report.js';
import { createLayerCounts, type LayerCounts, type LoadProgress, type LoadResult, runLoad } from './load-run.js';
import type { Output } from './output.js';
import { type ClientConfig, clientFromConfig } from './client-from-config.js';
import { isConnectionManagerConfig } from './connection-manager-config.js';
import { configOf, parseHeader, parseUrl } from './request-command.js';

/** Options of `shallot load`. */
export interface LoadCommandOptions {
  requests?: number | undefined;
  concurrency: number;
  durationMs?: number | undefined;
  method: string;
  header?: string[] | undefined;
  config?: string | undefined;
  json?: boolean | undefined;
  html?: string | undefined;
}

/** Requests sent when neither `-n` nor `--duration` is given. */
export const defaultRequests = 1_000;

type StateChange = { to: string };
type WithStateChange = Middleware<any, any> & { onStateChange(listener: (change: StateChange) => void): unknown };

// Counts a circuit's openings and closings into the run's counts.
function countStateChange(layers: LayerCounts): (change: StateChange) => void {
  return (change) => {
    if (change.to === 'open') layers.breakerOpened++;
    else if (change.to === 'closed') layers.breakerClosed++;
  };
}

// Counts the circuit events of every breaker in a stack into the run's counts.
function countBreakerEvents(layers: LayerCounts): (middleware: Middleware<any, any>) => void {
  const count = countStateChange(layers);
  return (middleware) => {
    if (typeof (middleware as Partial<WithStateChange>).onStateChange === 'function') (middleware as WithStateChange).onStateChange(count);
  };
}

function progressDisplay(output: Output, total: number, durationMs: number | undefined): { update(p: LoadProgress): void; stop(): void } {
  const rate = (p: LoadProgress): string => (p.elapsedMs > 0 ? ((p.completed * 1000) / p.elapsedMs).toFixed(0) : '0');
  if (!output.live) {
    // No terminal to redraw: a plain line now and then.
    let last = 0;
    return {
      update(p) {
        if (p.elapsedMs - last < 1_000) return;
        last = p.elapsedMs;
        output.err(`progress: ${p.completed}${Number.isFinite(total) ? `/${total}` : ''} done, ${rate(p)} req/s, ${p.errors} errors`);
      },
      stop() {},
    };
  }
  const c = output.errColor;
  const byTime = !Number.isFinite(total);
  const bar = new cliProgress.SingleBar(
    {
      stream: output.io.stderr,
      format: `${c.cyan('{bar}')} {percentage}% | {done} done | {rps} req/s | {errors} errors | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(byTime ? (durationMs as number) : total, 0, { done: 0, rps: '0', errors: c.green('0') });
  return {
    update(p) {
      bar.update(byTime ? Math.min(p.elapsedMs, durationMs as number) : p.completed, { done: p.completed, rps: rate(p), errors: p.errors === 0 ? c.green('0') : c.red(String(p.errors)) });
    },
    stop() {
      bar.stop();
    },
  };
}

/** The summary `--json` prints. */
export function jsonSummary(result: LoadResult, method: string, url: string, concurrency: number): Record<string, unknown> {
  return {
    method,
    url,
    concurrency,
    completed: result.completed,
    errors: result.errors,
    elapsedMs: Math.round(result.elapsedMs),
    requestsPerSecond: Math.round(throughput(result)),
    latencyMs: Object.fromEntries(Object.entries(latencySummary(result)).map(([k, v]) => [k, Number.isFinite(v) ? Number(v.toFixed(3)) : null])),
    statuses: Object.fromEntries([...result.statuses].map(([k, v]) => [String(k), v])),
    errorCodes: Object.fromEntries(result.errorCodes),
    layers: result.layers,
    stoppedBy: result.stoppedBy,
  };
}

/** The config with the transport's pool as large as the concurrency, unless the config sizes it (a manager's `poolMaxsize`). */
function withSocketsFor(config: ClientConfig, concurrency: number): ClientConfig {
  if (isConnectionManagerConfig(config)) {
    const options = config.connectionManager;
    return options.poolMaxsize === undefined ? { ...config, connectionManager: { ...options, poolMaxsize: concurrency } } : config;
  }
  const transport = config.transport ?? 'undici';
  if (typeof transport === 'string') return { ...config, transport: { kind: transport, maxSockets: concurrency } };
  return transport.maxSockets === undefined ? { ...config, transport: { ...transport, maxSockets: concurrency } } : config;
}

/** Runs `shallot load`: a bounded run with live progress, then the report. */
export async function loadCommand(url: string, options: LoadCommandOptions, output: Output): Promise<number> {
  const config = await configOf(options.config);
  parseUrl(url, config);
  const requests = options.requests ?? (options.durationMs === undefined ? defaultRequests : Infinity);
  const init: RequestOptions = { headers: (options.header ?? []).map(parseHeader) };
  const layers = createLayerCounts();
  const configured = clientFromConfig(withSocketsFor(config, options.concurrency), { onMiddleware: countBreakerEvents(layers) });
  configured.manager?.onCircuitBreakerStateChange(countStateChange(layers));
  const { client } = configured;
  const stack = client.describe().map((l) => l.name);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  const display = progressDisplay(output, requests, options.durationMs);
  const startedAt = new Date();
  let result: LoadResult;
  try {
    result = await runLoad({
      client,
      method: options.method.toUpperCase(),
      url,
      init,
      requests,
      concurrency: options.concurrency,
      durationMs: options.durationMs,
      signal: abort.signal,
      layers,
      onProgress: (p) => display.update(p),
      progressEveryMs: output.live ? 100 : 250,
    });
  } finally {
    display.stop();
    process.off('SIGINT', onSignal);
    await configured.close();
  }
  const shown = redactUrl(url);
  if (options.html !== undefined) {
    await writeFile(options.html, htmlReport(result, { method: options.method.toUpperCase(), url: shown, concurrency: options.concurrency, stack, startedAt }));
  }
  if (options.json === true) output.out(JSON.stringify(jsonSummary(result, options.method.toUpperCase(), shown, options.concurrency), null, 2));
  else {
    output.out(terminalReport(result, output.color, `${options.method.toUpperCase()} ${shown}`));
    if (options.html !== undefined) output.out(`\nreport written to ${options.html}`);
  }
  return 0;
}
