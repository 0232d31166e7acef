import { formatMs, histogram, latencySummary, layerRows, throughput } from './load-report.js';
import type { LoadResult } from './load-run.js';

/** What the HTML report says about the run besides its measurements. */
export interface ReportMeta {
  readonly method: string;
  /** Already redacted. */
  readonly url: string;
  readonly concurrency: number;
  /** The layers, outermost first. */
  readonly stack: readonly string[];
  readonly startedAt: Date;
}

const escape = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

const W = 720;
const H = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };

function axisLabel(x: number, y: number, text: string, anchor = 'middle'): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" class="axis">${escape(text)}</text>`;
}

function histogramSvg(result: LoadResult): string {
  const bins = histogram(result.latenciesMs, 24);
  if (bins.length === 0) return '<p>No response was received.</p>';
  const most = Math.max(...bins.map((b) => b.count));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = plotW / bins.length;
  const bars = bins
    .map((b, i) => {
      const h = most === 0 ? 0 : (b.count / most) * plotH;
      const x = PAD.left + i * barW;
      return `<rect x="${(x + 1).toFixed(1)}" y="${(PAD.top + plotH - h).toFixed(1)}" width="${Math.max(1, barW - 2).toFixed(1)}" height="${h.toFixed(1)}" class="bar"><title>${escape(`${formatMs(b.fromMs)} - ${formatMs(b.toMs)}: ${b.count}`)}</title></rect>`;
    })
    .join('');
  const ticks = [0, Math.floor(bins.length / 2), bins.length - 1].map((i) => {
    const b = bins[i] as { fromMs: number; toMs: number };
    return axisLabel(PAD.left + (i + 0.5) * barW, H - PAD.bottom + 16, formatMs((b.fromMs + b.toMs) / 2));
  });
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="latency histogram">
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" class="grid"/>
${bars}${ticks.join('')}${axisLabel(PAD.left - 8, PAD.top + 10, String(most), 'end')}${axisLabel(PAD.left - 8, PAD.top + plotH, '0', 'end')}
${axisLabel(PAD.left + plotW / 2, H - 6, 'latency (headers and body)')}
</svg>`;
}

function throughputSvg(result: LoadResult): string {
  const { ok, errors } = result.timeline;
  const n = Math.max(ok.length, errors.length);
  if (n === 0) return '<p>Nothing completed.</p>';
  // At most 120 points: merge adjacent windows of the timeline.
  const per = Math.ceil(n / 120);
  const points = Math.ceil(n / per);
  const windowS = (per * result.bucketMs) / 1000;
  const series = (list: number[]): number[] =>
    Array.from({ length: points }, (_, p) => {
      let sum = 0;
      for (let i = p * per; i < Math.min(n, (p + 1) * per); i++) sum += list[i] ?? 0;
      return sum / windowS;
    });
  const okRate = series(ok);
  const errRate = series(errors);
  const top = Math.max(1, ...okRate, ...errRate);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (points === 1 ? plotW / 2 : (i / (points - 1)) * plotW);
  const y = (v: number): number => PAD.top + plotH - (v / top) * plotH;
  const line = (values: number[], cls: string): string => `<polyline class="${cls}" points="${values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
  const totalS = (n * result.bucketMs) / 1000;
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="throughput over time">
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${W - PAD.right}" y2="${PAD.top + plotH}" class="grid"/>
${line(okRate, 'ok')}${errors.some((e) => e > 0) ? line(errRate, 'err') : ''}
${axisLabel(PAD.left - 8, PAD.top + 10, `${top.toFixed(0)}/s`, 'end')}${axisLabel(PAD.left - 8, PAD.top + plotH, '0', 'end')}
${axisLabel(PAD.left, H - PAD.bottom + 16, '0 s', 'start')}${axisLabel(W - PAD.right, H - PAD.bottom + 16, `${totalS.toFixed(1)} s`, 'end')}
${axisLabel(PAD.left + plotW / 2, H - 6, 'responses per second (errors in red)')}
</svg>`;
}

function rows(list: readonly (readonly (string | number)[])[]): string {
  return list.map((r) => `<tr>${r.map((cell) => `<td>${escape(String(cell))}</td>`).join('')}</tr>`).join('\n');
}

/** A self-contained HTML page (inline CSS and SVG, nothing fetched) reporting a load run. */
export function htmlReport(result: LoadResult, meta: ReportMeta): string {
  const s = latencySummary(result);
  const statuses = [...result.statuses].sort((a, b) => a[0] - b[0]).map(([status, count]) => [String(status), count]);
  const errors = [...result.errorCodes].sort((a, b) => b[1] - a[1]).map(([code, count]) => [code, count]);
  const layers = layerRows(result);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shallot load: ${escape(meta.method)} ${escape(meta.url)}</title>
<style>
body { font: 14px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 760px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ccc; padding: .2rem .6rem; text-align: left; }
.num td:not(:first-child) { text-align: right; } svg { width: 100%; height: auto; }
.bar { fill: #4a7fc1; } .ok { fill: none; stroke: #2f8f46; stroke-width: 2; } .err { fill: none; stroke: #c0392b; stroke-width: 2; }
.grid { stroke: #999; } .axis { font-size: 11px; fill: #555; } code { background: #f3f3f3; padding: 0 .2rem; }
</style>
</head>
<body>
<h1>shallot load: <code>${escape(meta.method)} ${escape(meta.url)}</code></h1>
<p>${result.completed} requests in ${(result.elapsedMs / 1000).toFixed(2)} s at concurrency ${meta.concurrency}: <strong>${throughput(result).toFixed(0)} req/s</strong>, ${result.errors} errors. Started ${escape(meta.startedAt.toISOString())}.</p>
<p>Stack, outermost first: <code>${escape(meta.stack.join(' → '))}</code></p>
<h2>Latency</h2>
${histogramSvg(result)}
<table class="num"><tr><th>min</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>mean</th></tr>
<tr>${[s.min, s.p50, s.p90, s.p99, s.max, s.mean].map((v) => `<td>${escape(formatMs(v))}</td>`).join('')}</tr></table>
<h2>Throughput over time</h2>
${throughputSvg(result)}
<h2>Statuses and errors</h2>
<table class="num"><tr><th>status or error</th><th>count</th></tr>
${rows([...statuses, ...errors])}
</table>
${layers.length === 0 ? '' : `<h2>What the layers did</h2>\n<table><tr><th>layer</th><th>what it did</th></tr>\n${rows(layers)}\n</table>`}
</body>
</html>
`;
}
