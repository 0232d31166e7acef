import { type LoadResult, percentile } from './load-run.js';
import type { Colors } from './output.js';
import { table } from './table.js';

/** One bar of a latency histogram: `[from, to)` in ms and how many requests fell in it. */
export interface HistogramBin {
  readonly fromMs: number;
  readonly toMs: number;
  readonly count: number;
}

/**
 * Latencies in `bins` equal-width bins from the fastest to the 99th percentile; the slowest 1 %
 * (if any lies further) share a last bin, so one outlier does not squash the picture.
 */
export function histogram(sorted: Float64Array, bins = 12): HistogramBin[] {
  if (sorted.length === 0) return [];
  const min = sorted[0] as number;
  const max = sorted[sorted.length - 1] as number;
  const top = Math.max(percentile(sorted, 99), min);
  const width = (top - min) / bins || 1;
  const out: { fromMs: number; toMs: number; count: number }[] = Array.from({ length: bins }, (_, i) => ({ fromMs: min + i * width, toMs: min + (i + 1) * width, count: 0 }));
  let tail = 0;
  for (const value of sorted) {
    if (value > top + 1e-9 && max > top) tail++;
    else (out[Math.min(bins - 1, Math.floor((value - min) / width))] as { count: number }).count++;
  }
  if (tail > 0) out.push({ fromMs: top, toMs: max, count: tail });
  return out;
}

/** A latency in ms as people read it: `0.84 ms`, `12.3 ms`, `1.52 s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Requests per second over the whole run. */
export function throughput(result: LoadResult): number {
  return result.elapsedMs > 0 ? (result.completed * 1000) / result.elapsedMs : 0;
}

/** The latency summary shared by the terminal, JSON and HTML reports. */
export function latencySummary(result: LoadResult): Record<'min' | 'mean' | 'p50' | 'p90' | 'p99' | 'max', number> {
  const l = result.latenciesMs;
  let sum = 0;
  for (const v of l) sum += v;
  return {
    min: l.length === 0 ? NaN : (l[0] as number),
    mean: l.length === 0 ? NaN : sum / l.length,
    p50: percentile(l, 50),
    p90: percentile(l, 90),
    p99: percentile(l, 99),
    max: l.length === 0 ? NaN : (l[l.length - 1] as number),
  };
}

/** What the layers did, as label/value rows (only the layers that did something). */
export function layerRows(result: LoadResult): [string, string][] {
  const l = result.layers;
  const rows: [string, string][] = [];
  if (l.retried > 0) rows.push(['retry', `${l.retried} requests retried, ${l.extraAttempts} extra attempts`]);
  const cache = Object.entries(l.cache);
  if (cache.length > 0) rows.push(['cache', cache.map(([status, n]) => `${status} ${n}`).join(', ')]);
  if (l.circuitOpen > 0 || l.breakerOpened > 0) {
    const parts = [`opened ${l.breakerOpened} times`, `closed again ${l.breakerClosed} times`, `${l.circuitOpen} requests refused while open`];
    rows.push(['circuit breaker', parts.join(', ')]);
  }
  if (l.rateLimitWaits > 0) rows.push(['rate limit', `${l.rateLimitWaits} requests waited, ${formatMs(l.rateLimitWaitedMs / l.rateLimitWaits)} on average`]);
  if (l.hedged > 0) rows.push(['hedge', `${l.hedged} requests hedged, ${l.hedgeWins} answered by the copy`]);
  return rows;
}

/** The terminal report: throughput, a latency histogram, percentiles, statuses, errors, layers. */
export function terminalReport(result: LoadResult, c: Colors, title: string): string {
  const lines: string[] = [];
  const seconds = result.elapsedMs / 1000;
  lines.push(
    `${c.bold(title)}: ${result.completed} requests in ${seconds.toFixed(2)} s, ${c.bold(`${throughput(result).toFixed(0)} req/s`)}, ${result.errors === 0 ? c.green('0 errors') : c.red(`${result.errors} errors`)}${result.stoppedBy === 'count' ? '' : ` (stopped by ${result.stoppedBy})`}`,
  );
  const bins = histogram(result.latenciesMs);
  if (bins.length > 0) {
    lines.push('', c.bold('latency'));
    const most = Math.max(...bins.map((b) => b.count));
    const labels = bins.map((b) => `${formatMs(b.fromMs)} - ${formatMs(b.toMs)}`);
    const labelWidth = Math.max(...labels.map((s) => s.length));
    bins.forEach((b, i) => {
      const width = most === 0 ? 0 : Math.round((b.count / most) * 40);
      const bar = '█'.repeat(width) + (b.count > 0 && width === 0 ? '▏' : '');
      lines.push(`  ${(labels[i] as string).padStart(labelWidth)} │ ${c.cyan(bar)} ${b.count}`);
    });
    const s = latencySummary(result);
    lines.push('', table(['p50', 'p90', 'p99', 'max', 'mean'], [[s.p50, s.p90, s.p99, s.max, s.mean].map(formatMs)], c));
  }
  const statusRows: (string | number)[][] = [...result.statuses].sort((a, b) => a[0] - b[0]).map(([status, n]) => [status >= 500 ? c.red(String(status)) : status >= 400 ? c.yellow(String(status)) : c.green(String(status)), n]);
  for (const [code, n] of [...result.errorCodes].sort((a, b) => b[1] - a[1])) statusRows.push([c.red(code), n]);
  if (statusRows.length > 0) lines.push('', table(['status', 'count'], statusRows, c, ['left', 'right']));
  const layers = layerRows(result);
  if (layers.length > 0) lines.push('', table(['layer', 'what it did'], layers, c));
  return lines.join('\n');
}
