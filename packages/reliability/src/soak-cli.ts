/**
 * `npm run soak`: the long chaos soak. Drives the full stack against the chaos upstream
 * (50,000 requests at concurrency 128 on each transport by default, each run bounded by
 * `--max-duration-ms`), then checks what the short soak in `npm test` checks and the heap too,
 * prints the figures docs/reliability.md records, and exits 1 when an invariant broke.
 *
 *   npm run soak -- --requests=50000 --concurrency=128 --transport=both --seed=1 --https --json=soak.json
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { runSoak, type SoakReport } from './soak.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '50000' },
    concurrency: { type: 'string', default: '128' },
    transport: { type: 'string', default: 'both' },
    seed: { type: 'string', default: '1' },
    'max-duration-ms': { type: 'string', default: '600000' },
    https: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

const requests = Number(values.requests);
const concurrency = Number(values.concurrency);
const maxDurationMs = Number(values['max-duration-ms']);
const seed = Number(values.seed);
for (const [name, value] of Object.entries({ requests, concurrency, maxDurationMs, seed })) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`soak: --${name} expects a non-negative integer, got ${String(value)}`);
}
const transportNames = { both: ['undici', 'node-fetch'], undici: ['undici'], 'node-fetch': ['node-fetch'] } as const;
const transports = transportNames[values.transport as keyof typeof transportNames];
if (transports === undefined) throw new Error(`soak: --transport expects undici, node-fetch or both, got ${values.transport}`);

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const table = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `| ${k} | ${n.toLocaleString('en')} |`)
    .join('\n');

/** The invariants, each with what broke it. */
function problems(report: SoakReport): string[] {
  const found: string[] = [];
  if (report.notSettledOnce > 0) found.push(`${report.notSettledOnce} requests did not settle exactly once`);
  if (report.untyped > 0) found.push(`${report.untyped} settled with an untyped error: ${report.untypedSamples.join('; ')}`);
  if (report.posts.duplicates > 0) found.push(`${report.posts.duplicates} POSTs without an Idempotency-Key reached the upstream twice`);
  if (report.leaks.total > 0) found.push(`left after close(): ${JSON.stringify(report.leaks)}`);
  if (report.unhandledRejections > 0) found.push(`${report.unhandledRejections} unhandled rejections`);
  if (report.heap !== undefined && Math.abs(report.heap.growth) > 0.1) found.push(`heap grew ${(report.heap.growth * 100).toFixed(1)} % after warm-up (bound 10 %)`);
  return found;
}

function print(report: SoakReport): void {
  const heap = report.heap;
  const lines = [
    `## ${report.transport}${report.https ? ' (https)' : ''}: ${report.requests.toLocaleString('en')} requests at concurrency ${report.concurrency}`,
    '',
    `duration ${(report.durationMs / 1000).toFixed(1)} s${report.stoppedByTime ? ' (stopped by --max-duration-ms)' : ''}; upstream arrivals ${report.arrivals.toLocaleString('en')}; spans ${report.spans.toLocaleString('en')}`,
    `layers: ${report.layers.join(' > ')}`,
    '',
    '| request kind | sent |',
    '| --- | --- |',
    table(report.sent),
    '',
    '| fault injected | count |',
    '| --- | --- |',
    table(report.faults),
    '',
    '| outcome | requests |',
    '| --- | --- |',
    table(report.outcomes),
    '',
    '| body read | responses |',
    '| --- | --- |',
    table(report.bodies),
    '',
    `settled other than once: ${report.notSettledOnce}; untyped errors: ${report.untyped}; unhandled rejections: ${report.unhandledRejections}`,
    `POSTs without an Idempotency-Key: ${report.posts.sent.toLocaleString('en')} sent, ${report.posts.arrived.toLocaleString('en')} reached the upstream, duplicates ${report.posts.duplicates}`,
    `leaks after close(): server connections ${report.leaks.serverConnections}, handles/timers above baseline ${JSON.stringify(report.leaks.resources)}, caller-signal listeners ${report.leaks.signalListeners}: total ${report.leaks.total}`,
    heap === undefined
      ? ''
      : `heap after forced GC: after warm-up ${mib(heap.afterWarmUp)}, at the end ${mib(heap.atEnd)} (${heap.growth >= 0 ? '+' : ''}${(heap.growth * 100).toFixed(1)} %), after close ${mib(heap.afterClose)}`,
    '',
  ];
  console.log(lines.join('\n'));
}

const cpus = os.cpus();
console.log(
  `# shallot chaos soak, ${new Date().toISOString()}\n\nmachine: ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${mib(os.totalmem())} memory, ` +
    `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; Node ${process.version} on ${os.platform()} ${os.release()}; seed ${seed}\n`,
);

const reports: SoakReport[] = [];
let failed = false;
for (const transport of transports) {
  let lastPrint = Date.now();
  const report = await runSoak({
    requests,
    concurrency,
    transport,
    seed,
    maxDurationMs,
    https: values.https,
    measureHeap: true,
    onProgress(settled, total) {
      if (Date.now() - lastPrint < 10_000) return;
      lastPrint = Date.now();
      process.stderr.write(`${transport}: ${settled.toLocaleString('en')} / ${total.toLocaleString('en')} settled\n`);
    },
  });
  reports.push(report);
  print(report);
  const found = problems(report);
  if (found.length > 0) {
    failed = true;
    console.log(`FAILED (${transport}):\n- ${found.join('\n- ')}\n`);
  }
}
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(reports, null, 2)}\n`);
console.log(failed ? 'soak: an invariant broke' : 'soak: every invariant held');
process.exitCode = failed ? 1 : 0;
