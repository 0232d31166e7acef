// `npm run bench`: builds the workspace, starts the loopback upstream pinned to core 1, runs every
// (row, scenario) in a fresh client process pinned to core 0, several rounds in shuffled order,
// and prints per-scenario tables (medians, ratio to raw `undici.request` from the same run), the
// issues' target checks (informative: the exit code is 0 whatever they say) and the paired
// middleware-overhead comparison of paired.mjs. See bench/README.md.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, median } from './loop.mjs';
import { optionalLayer, rows as allRows } from './rows.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');

const quick = flag('quick', 'false') === 'true';
const settings = {
  rounds: Number(flag('rounds', quick ? '1' : '3')),
  warmup: Number(flag('warmup', quick ? '200' : '2000')),
  count: Number(flag('count', quick ? '2000' : '20000')),
  warmupMs: Number(flag('warmup-ms', quick ? '500' : '2000')),
  maxMs: Number(flag('max-ms', quick ? '1000' : '3000')),
  sockets: flag('sockets', undefined),
  scenarios: flag('scenarios', 'c1-small,c64-small,c1-large,c64-large').split(',').filter(Boolean),
  rows: flag('rows', 'all'),
  build: flag('build', 'true') !== 'false',
  paired: flag('paired', 'true') !== 'false',
  out: flag('out', join(here, '.results')),
  cpuProf: ((dir) => (dir === 'true' ? join(here, '.results', 'profiles') : dir))(flag('cpu-prof', undefined)),
};

function log(line) {
  process.stderr.write(`${line}\n`);
}

// --- build --------------------------------------------------------------------------------
if (settings.build) {
  log('bench: building the workspace (npx tsc -b)...');
  const built = spawnSync('npx', ['tsc', '-b'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) {
    const output = `${built.stdout ?? ''}${built.stderr ?? ''}`.trim().split('\n');
    log(`bench: WARNING: 'tsc -b' exited ${built.status}; benchmarking the dist/ that exists. Last lines:`);
    for (const line of output.slice(-15)) log(`  ${line}`);
  }
}
try {
  await import('@shallot/core');
} catch (error) {
  log(`bench: @shallot/core cannot be imported (${error.message}); run 'npm run build' first.`);
  process.exit(1);
}

// --- rows ---------------------------------------------------------------------------------
const wanted = settings.rows === 'all' ? undefined : new Set(settings.rows.split(','));
const skipped = [];
const rows = [];
for (const row of allRows) {
  // The baseline always runs: every ratio is to it.
  if (wanted !== undefined && !wanted.has(row.name) && row.name !== 'undici') continue;
  if (row.requires !== undefined && (await optionalLayer(...row.requires)) === undefined) {
    skipped.push({ row, reason: `skipped: ${row.requires[0]} not built` });
    continue;
  }
  rows.push(row);
}
if (wanted !== undefined) for (const name of wanted) if (!allRows.some((r) => r.name === name)) log(`bench: unknown row ${name} (known: ${allRows.map((r) => r.name).join(', ')})`);

const scenarios = settings.scenarios.map((name) => {
  const match = /^c(\d+)-(small|large)$/.exec(name);
  if (match === null) throw new Error(`bad scenario ${name}: expected c<concurrency>-small|large`);
  return { name, concurrency: Number(match[1]), size: match[2] };
});

// --- pinning ------------------------------------------------------------------------------
const haveTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && os.availableParallelism() >= 2;
if (!haveTaskset) log('bench: taskset unavailable (or one core): processes are not pinned, ratios will be noisier.');
const pinned = (core, args) => (haveTaskset ? ['taskset', ['-c', String(core), process.execPath, ...args]] : [process.execPath, args]);

// --- upstream -----------------------------------------------------------------------------
async function startUpstream() {
  const [cmd, args] = pinned(1, [join(here, 'upstream.mjs'), '--exit-with-stdin']);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('upstream did not start in 10 s')), 10_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(JSON.parse(buffer.slice(0, nl)).port);
      }
    });
    child.once('exit', (code) => reject(new Error(`upstream exited ${code}`)));
  });
  return { origin: `http://127.0.0.1:${port}`, stop: () => child.stdin.end() };
}

function runChild(script, args, limitMs) {
  const profile = settings.cpuProf === undefined || script !== 'client.mjs' ? [] : ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProf}`];
  const [cmd, argv] = pinned(0, ['--expose-gc', ...profile, join(here, script), ...args]);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

function shuffle(list) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
}

// --- run ----------------------------------------------------------------------------------
const upstream = await startUpstream();
process.once('exit', () => upstream.stop());
const startedAt = new Date();
const results = new Map(); // `${scenario}|${row}` -> result[]
const failures = [];
const total = settings.rounds * scenarios.length * rows.length;
let done = 0;
log(`bench: ${rows.length} rows x ${scenarios.length} scenarios x ${settings.rounds} rounds = ${total} client processes; upstream ${upstream.origin}`);
for (let round = 1; round <= settings.rounds; round++) {
  const plan = shuffle(scenarios.flatMap((s) => rows.map((r) => [s, r])));
  for (const [scenario, row] of plan) {
    const sockets = settings.sockets ?? String(scenario.concurrency);
    const args = [
      `--row=${row.name}`,
      `--origin=${upstream.origin}`,
      `--concurrency=${scenario.concurrency}`,
      `--size=${scenario.size}`,
      `--sockets=${sockets}`,
      `--warmup=${settings.warmup}`,
      `--count=${settings.count}`,
      `--warmup-ms=${settings.warmupMs}`,
      `--max-ms=${settings.maxMs}`,
    ];
    const { code, out, err } = await runChild('client.mjs', args, settings.warmupMs + settings.maxMs + 30_000);
    done++;
    let result;
    try {
      result = JSON.parse(out.trim().split('\n').pop());
    } catch {
      result = { error: `exit ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}` };
    }
    if (result.error !== undefined && !(result.completed > 0)) {
      failures.push({ scenario: scenario.name, row: row.name, round, error: result.error });
      log(`[${done}/${total}] round ${round} ${scenario.name} ${row.name}: FAILED ${result.error}`);
      continue;
    }
    const key = `${scenario.name}|${row.name}`;
    if (!results.has(key)) results.set(key, []);
    results.get(key).push(result);
    log(`[${done}/${total}] round ${round} ${scenario.name.padEnd(9)} ${row.name.padEnd(18)} ${Math.round(result.rps).toLocaleString('en-US').padStart(7)} req/s  p50 ${result.p50.toFixed(3)} ms  ${Math.round(result.cpuUsPerReq)} µs CPU/req${result.errors > 0 ? `  (${result.errors} errors: ${result.error})` : ''}`);
  }
}

// --- paired -------------------------------------------------------------------------------
let paired;
if (settings.paired) {
  log('bench: paired middleware-overhead comparison (paired.mjs), one process...');
  const args = [`--origin=${upstream.origin}`, '--json'];
  if (quick) args.push('--quick');
  const { out, err, code } = await runChild('paired.mjs', args, 180_000);
  const lines = out.trim().split('\n');
  const json = lines.find((l) => l.startsWith('PAIRED_JSON '));
  if (json === undefined) log(`bench: paired.mjs failed (exit ${code}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
  else paired = JSON.parse(json.slice('PAIRED_JSON '.length));
}
upstream.stop();

// --- report -------------------------------------------------------------------------------
const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const summary = {};
for (const scenario of scenarios) {
  summary[scenario.name] = {};
  for (const row of rows) {
    const list = results.get(`${scenario.name}|${row.name}`) ?? [];
    summary[scenario.name][row.name] = {
      runs: list.length,
      rps: median(list.map((r) => r.rps)),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      cpu: median(list.map((r) => r.cpuUsPerReq)),
      heap: median(list.map((r) => r.heapAfterMiB)),
      rpsAll: list.map((r) => Math.round(r.rps)),
      xCache: list.find((r) => r.xCache !== undefined)?.xCache,
    };
  }
}

const lines = [];
for (const scenario of scenarios) {
  const s = summary[scenario.name];
  const base = s.undici?.rps;
  lines.push(`### ${scenario.name}: concurrency ${scenario.concurrency}, ${scenario.size === 'small' ? '109-byte JSON body, json()' : '64 KiB body, text()'}`);
  lines.push('');
  lines.push('| row | req/s (median) | ratio to undici.request | CPU ratio | p50 ms | p99 ms | client CPU µs/req | heap after GC MiB | req/s per round |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const row of rows) {
    const r = s[row.name];
    const label = `${row.label}${r.xCache === undefined ? '' : ` (x-cache: ${r.xCache})`}`;
    lines.push(`| ${label} | ${fmt(r.rps)} | ${fmt(r.rps / base, 2)} | ${fmt(s.undici?.cpu / r.cpu, 2)} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.cpu)} | ${fmt(r.heap, 1)} | ${r.rpsAll.join(', ')} |`);
  }
  for (const { row, reason } of skipped) lines.push(`| ${row.label} | ${reason} | | | | | | | |`);
  lines.push('');
}

// The issues' targets, at concurrency 64 with the small body. Informative only.
const checks = [];
const c64 = summary['c64-small'];
const check = (name, a, b, threshold, describe) => {
  const ra = c64?.[a]?.rps;
  const rb = c64?.[b]?.rps;
  const ratio = ra / rb;
  // Client CPU per request is not inflated when other processes take the core: B's CPU / A's.
  const cpuRatio = c64?.[b]?.cpu / c64?.[a]?.cpu;
  const verdict = !Number.isFinite(ratio) ? 'n/a' : ratio >= threshold ? 'PASS' : 'FAIL';
  const cpuVerdict = !Number.isFinite(cpuRatio) ? 'n/a' : cpuRatio >= threshold ? 'PASS' : 'FAIL';
  checks.push({ name, ratio, cpuRatio, threshold, verdict, cpuVerdict, describe });
};
check('shallot-undici vs undici.request', 'shallot-undici', 'undici', 0.85, '>= 0.85 x');
check('shallot + 10 no-op middlewares vs undici.request', 'shallot-mw10', 'undici', 0.8, '>= 0.80 x');
check('shallot nodeFetchTransport vs raw node-fetch', 'shallot-node-fetch', 'node-fetch', 0.95, '>= 0.95 x');
check('shallot + retry() vs shallot bare', 'shallot-retry', 'shallot-undici', 0.95, 'within 5 % (>= 0.95 x)');
check('ConnectionManager default stack vs undici.request', 'shallot-cm', 'undici', 0.55, '>= 0.55 x');
check('ConnectionManager default stack vs got', 'shallot-cm', 'got', 4, '>= 4 x');
check('cache HIT vs cache MISS', 'shallot-cache-hit', 'shallot-cache-miss', 3, '>= 3 x');
lines.push('### Target checks (c64-small, separate processes, ratio of median req/s; informative only)');
lines.push('');
lines.push('| check | target | req/s ratio | verdict | CPU ratio | verdict (CPU) |');
lines.push('| --- | --- | ---: | --- | ---: | --- |');
for (const c of checks) {
  const skippedRow = c.verdict === 'n/a' ? ' (row not run or skipped)' : '';
  lines.push(`| ${c.name} | ${c.describe} | ${fmt(c.ratio, 2)} | ${c.verdict}${skippedRow} | ${fmt(c.cpuRatio, 2)} | ${c.cpuVerdict} |`);
}
lines.push('');
if (paired !== undefined) {
  lines.push(`### Paired, one process (${paired.settings})`);
  lines.push('');
  lines.push('| B vs A | req/s ratio B/A (median of pairs) | min..max | CPU ratio A/B (median) | CPU µs/req B - A (median) | target | verdict (req/s) | verdict (CPU) |');
  lines.push('| --- | ---: | --- | ---: | ---: | --- | --- | --- |');
  for (const p of paired.comparisons) {
    const verdict = p.target === undefined ? '' : p.ratio >= p.target ? 'PASS' : 'FAIL';
    const cpuVerdict = p.target === undefined ? '' : p.cpuRatio >= p.target ? 'PASS' : 'FAIL';
    lines.push(`| ${p.label} | ${fmt(p.ratio, 3)} | ${fmt(p.min, 3)}..${fmt(p.max, 3)} | ${fmt(p.cpuRatio, 3)} | ${fmt(p.cpuDelta, 1)} | ${p.targetText ?? ''} | ${verdict} | ${cpuVerdict} |`);
  }
  for (const note of paired.skipped) lines.push(`| ${note} | | | | | | | |`);
  lines.push('');
}
if (failures.length > 0) {
  lines.push('### Failed runs');
  lines.push('');
  for (const f of failures) lines.push(`- round ${f.round} ${f.scenario} ${f.row}: ${f.error}`);
  lines.push('');
}

const finishedAt = new Date();
const versionOf = (name) => {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'n/a';
  }
};
const cpuModel = (() => {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
  } catch {
    return os.cpus()[0]?.model;
  }
})();
const machine = {
  date: startedAt.toISOString(),
  durationS: Math.round((finishedAt - startedAt) / 1000),
  nproc: os.availableParallelism(),
  cpu: cpuModel,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  pinned: haveTaskset ? 'upstream taskset -c 1, each client taskset -c 0' : 'not pinned (no taskset)',
  loadavg: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  packages: Object.fromEntries(['undici', 'node-fetch', 'got', 'ky', 'axios', 'cockatiel', 'lru-cache', 'http-cache-semantics', '@shallot/core', '@shallot/retry', '@shallot/cache'].map((n) => [n, versionOf(n)])),
  settings: { ...settings, argv: process.argv.slice(2).join(' ') },
};
const header = [
  `Run ${machine.date} (${machine.durationS} s): ${machine.nproc} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}; ${machine.pinned}; load average at the end ${machine.loadavg}.`,
  `Packages: ${Object.entries(machine.packages).map(([n, v]) => `${n} ${v}`).join(', ')}.`,
  `Settings: ${settings.rounds} rounds in shuffled order, warm-up ${settings.warmup} requests (<= ${settings.warmupMs} ms), then ${settings.count} counted (<= ${settings.maxMs} ms), pool size = concurrency${settings.sockets === undefined ? '' : ` (forced ${settings.sockets})`}; medians over rounds.`,
  '',
];
const report = [...header, ...lines].join('\n');
process.stdout.write(`\n${report}\n`);
try {
  mkdirSync(settings.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(settings.out, `bench-${stamp}.md`), `${report}\n`);
  writeFileSync(join(settings.out, `bench-${stamp}.json`), `${JSON.stringify({ machine, summary, raw: Object.fromEntries(results), checks, paired, failures }, null, 1)}\n`);
  log(`bench: wrote ${join(settings.out, `bench-${stamp}.md`)} and .json`);
} catch (error) {
  log(`bench: could not write results: ${error.message}`);
}
