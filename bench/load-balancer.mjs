// `npm run bench:lb`: the load balancer against a slow backend, after Finagle's and Linkerd's
// P2C / peak-EWMA results. Three loopback backends (by default two answer after 1 ms and one after
// 10 ms), the same requests (5,000 GETs at concurrency 32, given as paths) sent through
// `loadBalancer()` with each strategy, one after the other in this one run; it prints overall
// p50/p99 per strategy and the p99 ratio of round-robin to p2c-ewma (the issue's target: >= 3).
// The balancer's own cost per request is measured beside the other layers by `npm run bench:layers`.
//
//   node bench/load-balancer.mjs [--count=5000] [--concurrency=32] [--warmup=1000] [--rounds=5]
//     [--delays=1,1,10] [--capacity=N] [--strategies=round-robin,least-request,p2c-ewma] [--ewma-decay-ms=N] [--no-pin] [--verbose] [--json]
//
// The backends run in a process of their own pinned to core 1, this client on core 0 (taskset).
import { spawn, spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { flag, measure, median, startHelper } from './loop.mjs';

const self = fileURLToPath(import.meta.url);
const delays = flag('delays', '1,1,10').split(',').map(Number);
// Workers per backend: 0 serves every request at once (only the delay); N serves N at a time and
// queues the rest, as a server with a worker pool does (then a slow backend also backs up).
const capacity = Number(flag('capacity', '0'));

// --- the backends (child process) ----------------------------------------------------------
if (process.argv.includes('--backends')) {
  const body = Buffer.from(JSON.stringify({ id: 123, name: 'shallot' }));
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  const ports = await Promise.all(
    delays.map(
      (delayMs) =>
        new Promise((resolve) => {
          let busy = 0;
          const queue = [];
          const serve = (res) => {
            busy++;
            setTimeout(() => {
              res.writeHead(200, headers);
              res.end(body);
              busy--;
              const next = queue.shift();
              if (next !== undefined) serve(next);
            }, delayMs);
          };
          const server = http.createServer({ keepAlive: true }, (req, res) => {
            req.resume();
            if (capacity > 0 && busy >= capacity) queue.push(res);
            else serve(res);
          });
          server.keepAliveTimeout = 60_000;
          server.listen(0, '127.0.0.1', () => resolve(server.address().port));
        }),
    ),
  );
  process.stdout.write(`${JSON.stringify({ ports })}\n`);
  const stop = () => process.exit(0);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  setTimeout(stop, 10 * 60_000).unref();
  await new Promise(() => {});
}

// --- the client (this process, pinned to core 0) -------------------------------------------
// Once re-run under taskset this process sees one core: the pinning is known from the environment.
// `--no-pin` leaves both processes to the scheduler (on a machine busy with unpinned work, core 0 is no refuge).
const pinned = process.env.BENCH_LB_PINNED === '1';
const pin = flag('pin', 'true') !== 'false';
const haveTaskset = pinned || (pin && spawnSync('taskset', ['-c', '0', 'true']).status === 0 && os.availableParallelism() >= 2);
if (haveTaskset && !pinned) {
  const child = spawn('taskset', ['-c', '0', process.execPath, self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_LB_PINNED: '1' },
  });
  child.once('exit', (code) => process.exit(code ?? 1));
  await new Promise(() => {});
}

const count = Number(flag('count', '5000'));
const concurrency = Number(flag('concurrency', '32'));
const warmup = Number(flag('warmup', '1000'));
const strategies = flag('strategies', 'round-robin,least-request,p2c-ewma').split(',');
const rounds = Number(flag('rounds', '5'));
const ewmaDecayMs = flag('ewma-decay-ms', undefined);
const json = flag('json', 'false') === 'true';
const verbose = flag('verbose', 'false') === 'true';

const watchdog = setTimeout(() => {
  process.stderr.write('load-balancer.mjs: did not finish in time\n');
  process.exit(3);
}, 600_000);
watchdog.unref();

const args = [self, '--backends', `--delays=${delays.join(',')}`, `--capacity=${capacity}`];
const { info, child: backends } = await startHelper(args, { pin: haveTaskset, what: 'the backends' });
const ports = info.ports;
const endpoints = ports.map((port) => `http://127.0.0.1:${port}`);
const slowest = delays.indexOf(Math.max(...delays));

const { compose, undiciTransport } = await import('@shallot/core');
const { loadBalancer } = await import('@shallot/load-balancer');

function balancedClient(strategy) {
  const balancer = loadBalancer({ endpoints, strategy, ...(ewmaDecayMs === undefined ? {} : { ewmaDecayMs: Number(ewmaDecayMs) }) });
  const client = compose().use(balancer).build({ transport: undiciTransport({ maxSockets: concurrency }) });
  return { balancer, client, one: async () => (await client.get('/data')).json() };
}

// Every round runs each strategy once, the order rotated from round to round, so none always goes first.
const perStrategy = Object.fromEntries(strategies.map((strategy) => [strategy, []]));
for (let round = 0; round < rounds; round++) {
  for (let k = 0; k < strategies.length; k++) {
    const strategy = strategies[(k + round) % strategies.length];
    // Warm the JIT and the sockets on a client of its own, then measure a fresh balancer.
    const warm = balancedClient(strategy);
    await measure(warm.one, { concurrency, count: warmup, maxMs: 10_000, record: false });
    await warm.client.close();
    const run = balancedClient(strategy);
    const result = await measure(run.one, { concurrency, count, maxMs: 60_000 });
    const stats = run.balancer.stats();
    const total = stats.reduce((n, s) => n + s.requests, 0);
    perStrategy[strategy].push({ ...result, slowShare: stats[slowest].requests / total, shares: stats.map((s) => s.requests), ewmaMs: stats.map((s) => s.ewmaLatencyMs) });
    if (verbose) process.stderr.write(`${strategy}: requests ${stats.map((s) => s.requests).join('/')}, peak-EWMA ms ${stats.map((s) => s.ewmaLatencyMs.toFixed(2)).join('/')}, p50 ${result.p50.toFixed(2)}, p99 ${result.p99.toFixed(2)}\n`);
    await run.client.close();
  }
}
const results = strategies.map((strategy) => {
  const runs = perStrategy[strategy];
  const pick = (key) => median(runs.map((r) => r[key]));
  return { strategy, rps: pick('rps'), p50: pick('p50'), p99: pick('p99'), slowShare: pick('slowShare'), errors: runs.reduce((n, r) => n + r.errors, 0), runs };
});
backends.stdin.end();

// --- report ---------------------------------------------------------------------------------
const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const byName = Object.fromEntries(results.map((r) => [r.strategy, r]));
const ratio = byName['round-robin'] && byName['p2c-ewma'] ? byName['round-robin'].p99 / byName['p2c-ewma'].p99 : NaN;
const roundRatios = byName['round-robin'] && byName['p2c-ewma'] ? byName['round-robin'].runs.map((r, i) => r.p99 / byName['p2c-ewma'].runs[i].p99) : [];
const [load1, load5] = os.loadavg();
const lines = [
  `Run ${new Date().toISOString()}: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; load average ${fmt(load1)} ${fmt(load5)}; ${haveTaskset ? 'backends taskset -c 1, client taskset -c 0' : 'not pinned'}.`,
  `Backends: ${delays.map((d) => `${d} ms`).join(', ')}, ${capacity > 0 ? `${capacity} workers each (the rest queue)` : 'every request served at once'}; ewmaDecayMs ${ewmaDecayMs ?? '10000 (default)'}; ${count} GETs per strategy and round at concurrency ${concurrency} (after ${warmup} warm-up requests on a separate client); ${rounds} rounds, order rotated; medians over rounds.`,
  '',
  '| strategy | req/s | p50 ms | p99 ms | share to the slow backend | p99 ms per round | errors |',
  '| --- | ---: | ---: | ---: | ---: | --- | ---: |',
  ...results.map((r) => `| \`${r.strategy}\` | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.slowShare * 100, 1)} % | ${r.runs.map((x) => fmt(x.p99)).join(', ')} | ${r.errors} |`),
  '',
  `p99 round-robin / p99 p2c-ewma (medians): ${fmt(ratio)} (target >= 3): ${Number.isFinite(ratio) ? (ratio >= 3 ? 'PASS' : 'FAIL') : 'n/a'}; per round: ${roundRatios.map((x) => fmt(x)).join(', ')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
if (json) process.stdout.write(`LB_JSON ${JSON.stringify({ results, ratio })}\n`);
process.exit(0);
