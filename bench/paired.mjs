// Paired comparison of small overheads, in ONE process (BENCH-NOTES: separate processes can't
// resolve differences under ~15 %): variants A and B run in alternating blocks (A B, B A, A B...)
// against the same upstream, and each pair gives a ratio B/A; the median pair ratio is reported.
//
//   node --expose-gc bench/paired.mjs [--origin=URL] [--concurrency=64] [--size=small]
//     [--block=2000] [--block-ms=1000] [--pairs=10] [--quick] [--json]
//
// Without --origin it starts its own upstream pinned to core 1, and re-runs itself pinned to core 0.
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, median, measure, startHelper } from './loop.mjs';
import { optionalLayer, readOf } from './rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const haveTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && os.availableParallelism() >= 2;

let origin = flag('origin', undefined);
let stopUpstream = () => {};
if (origin === undefined) {
  if (haveTaskset && process.env.BENCH_PAIRED_PINNED !== '1') {
    // Re-run pinned to core 0; the upstream goes to core 1.
    const child = spawn('taskset', ['-c', '0', process.execPath, '--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_PAIRED_PINNED: '1' },
    });
    child.once('exit', (code) => process.exit(code ?? 1));
    await new Promise(() => {});
  }
  const args = [join(here, 'upstream.mjs'), '--exit-with-stdin'];
  const { info, child: up } = await startHelper(args, { pin: haveTaskset });
  const port = info.port;
  origin = `http://127.0.0.1:${port}`;
  stopUpstream = () => up.stdin.end();
}

const quick = flag('quick', 'false') === 'true';
const concurrency = Number(flag('concurrency', '64'));
const size = flag('size', 'small');
const block = Number(flag('block', quick ? '1000' : '2000'));
const blockMs = Number(flag('block-ms', quick ? '500' : '1000'));
const pairs = Number(flag('pairs', quick ? '4' : '10'));
const only = flag('compare', 'all'); // e.g. --compare=bare:mw10,undici:bare
const json = flag('json', 'false') === 'true';
const path = `/${size}`;
const read = readOf(size);

// A safety bound on the whole comparison.
const watchdog = setTimeout(() => {
  process.stderr.write('paired.mjs: did not finish in time\n');
  stopUpstream();
  process.exit(3);
}, 900_000);
watchdog.unref();

const { Pool, request } = await import('undici');
const core = await import('@shallot/core');
const retry = await optionalLayer('@shallot/retry', 'retry');

function shallot(middlewares, transport = core.undiciTransport({ maxSockets: concurrency })) {
  let builder = core.compose();
  for (const m of middlewares) builder = builder.use(m);
  const client = builder.build({ transport });
  return { run: async () => (await client.get(origin + path))[read](), close: () => client.close() };
}

const pool = new Pool(origin, { connections: concurrency });
const pool2 = new Pool(origin, { connections: concurrency });
const variants = {
  undici: { label: '`undici.request`', run: async () => (await request(origin + path, { dispatcher: pool })).body[read](), close: () => pool.close() },
  pool: { label: 'undici `Pool.request`', run: async () => (await pool2.request({ path, method: 'GET' })).body[read](), close: () => pool2.close() },
  bare: { label: 'shallot bare', ...shallot([]) },
  mw10: { label: 'shallot + 10 no-op', ...shallot(Array.from({ length: 10 }, () => async (ctx, next) => next())) },
};
// node-fetch is what nodeFetchTransport runs on, so raw node-fetch beside it loads nothing new.
const { default: nodeFetch } = await import('node-fetch');
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
variants['node-fetch'] = { label: 'raw node-fetch', run: async () => (await nodeFetch(origin + path, { agent }))[read](), close: async () => agent.destroy() };
variants['shallot-node-fetch'] = { label: 'shallot nodeFetchTransport', ...shallot([], core.nodeFetchTransport({ maxSockets: concurrency })) };
if (retry !== undefined) variants.retry = { label: 'shallot + retry()', ...shallot([retry()]) };
// One variant per layer alone, and the resilient stack on both transports (issue 10).
const layers = await Promise.all(
  [
    ['@shallot/timeout', 'timeout'],
    ['@shallot/hedge', 'hedge'],
    ['@shallot/tracing', 'tracing'],
    ['@shallot/tracing', 'requestId'],
    ['@shallot/tracing', 'metrics'],
    ['@shallot/circuit-breaker', 'circuitBreaker'],
    ['@shallot/rate-limit', 'rateLimit'],
    ['@shallot/rate-limit', 'concurrencyLimit'],
  ].map(([pkg, name]) => optionalLayer(pkg, name)),
);
const [timeoutLayer, hedgeLayer, tracingLayer, requestIdLayer, metricsLayer, breakerLayer, rateLimitLayer, concurrencyLayer] = layers;
const layerVariants = {
  'timeout-total': timeoutLayer && (() => [timeoutLayer({ totalMs: 30_000 })]),
  'timeout-attempt': timeoutLayer && (() => [timeoutLayer({ attemptMs: 30_000 })]),
  hedge: hedgeLayer && (() => [hedgeLayer({ delayMs: 1_000 })]),
  tracing: tracingLayer && (() => [tracingLayer()]),
  'request-id': requestIdLayer && (() => [requestIdLayer()]),
  metrics: metricsLayer && (() => [metricsLayer()]),
  breaker: breakerLayer && (() => [breakerLayer()]),
  'rate-limit': rateLimitLayer && (() => [rateLimitLayer({ limit: 1_000_000_000, intervalMs: 1_000 })]),
  concurrency: concurrencyLayer && (() => [concurrencyLayer({ max: 1_000 })]),
};
for (const [name, make] of Object.entries(layerVariants)) if (make) variants[name] = { label: `shallot + ${name}`, ...shallot(make()) };
const resilient = () => [
  requestIdLayer(),
  metricsLayer(),
  timeoutLayer({ totalMs: 30_000 }),
  retry({ maxAttempts: 3 }),
  breakerLayer({ failureThreshold: 5, recoveryTimeoutMs: 30_000 }),
  rateLimitLayer({ limit: 1_000_000_000, intervalMs: 1_000 }),
  timeoutLayer({ attemptMs: 10_000 }),
];
if (layers.every((l) => l !== undefined) && retry !== undefined) {
  variants.resilient = { label: 'resilient stack (undici)', ...shallot(resilient()) };
  variants['resilient-nf'] = { label: 'resilient stack (node-fetch)', ...shallot(resilient(), core.nodeFetchTransport({ maxSockets: concurrency })) };
}

// [A, B, target for B/A, how the target reads]
const comparisons = [
  ['undici', 'bare', 0.85, '>= 0.85 (issue 2)'],
  ['undici', 'mw10', 0.8, '>= 0.80 (issue 2)'],
  ['pool', 'bare', undefined, undefined],
  ['bare', 'mw10', undefined, undefined],
  ['bare', 'retry', 0.95, '>= 0.95 (issue 3)'],
  ['node-fetch', 'shallot-node-fetch', 0.95, '>= 0.95 (issue 2)'],
  ...Object.keys(layerVariants).map((name) => ['bare', name, undefined, undefined]),
  ['undici', 'resilient', 0.6, '>= 0.60 (issue 10)'],
  ['node-fetch', 'resilient-nf', undefined, undefined],
];
const skipped = [];

const blockOf = (v) => measure(variants[v].run, { concurrency, count: block, maxMs: blockMs, record: false });
const involved = new Set(comparisons.filter(([a, b]) => only === 'all' || only.split(',').includes(`${a}:${b}`)).flat().filter((v) => typeof v === 'string' && variants[v] !== undefined));
for (const name of involved) await blockOf(name); // warm every variant's JIT and sockets

const out = [];
for (const [a, b, target, targetText] of comparisons) {
  if (only !== 'all' && !only.split(',').includes(`${a}:${b}`)) continue;
  if (variants[a] === undefined || variants[b] === undefined) {
    skipped.push(`${b} vs ${a}: skipped: a package it needs is not built`);
    continue;
  }
  const ratios = [];
  const cpuDeltas = [];
  const cpuRatios = [];
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? [a, b] : [b, a];
    const r = {};
    for (const v of order) r[v] = await blockOf(v);
    ratios.push(r[b].rps / r[a].rps);
    cpuDeltas.push(r[b].cpuUsPerReq - r[a].cpuUsPerReq);
    cpuRatios.push(r[a].cpuUsPerReq / r[b].cpuUsPerReq);
  }
  out.push({
    label: `${variants[b].label} vs ${variants[a].label}`,
    a,
    b,
    ratio: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    cpuDelta: median(cpuDeltas),
    cpuRatio: median(cpuRatios),
    target,
    targetText,
  });
}
await Promise.all(Object.values(variants).map((v) => v.close()));
stopUpstream();
clearTimeout(watchdog);

const settings = `concurrency ${concurrency}, ${size} body, ${pairs} pairs of ${block}-request blocks (<= ${blockMs} ms each), alternating order`;
const f = (n, d) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
process.stdout.write(`paired (${settings})\n`);
for (const c of out) {
  const verdict = c.target === undefined ? '' : `  target ${c.targetText}: ${c.ratio >= c.target ? 'PASS' : 'FAIL'} (CPU: ${c.cpuRatio >= c.target ? 'PASS' : 'FAIL'})`;
  process.stdout.write(`  ${c.label.padEnd(46)} req/s ratio ${f(c.ratio, 3)} (${f(c.min, 3)}..${f(c.max, 3)})  CPU ratio ${f(c.cpuRatio, 3)}  CPU ${c.cpuDelta >= 0 ? '+' : ''}${f(c.cpuDelta, 1)} µs/req${verdict}\n`);
}
for (const s of skipped) process.stdout.write(`  ${s}\n`);
if (json) process.stdout.write(`PAIRED_JSON ${JSON.stringify({ settings, comparisons: out, skipped })}\n`);
