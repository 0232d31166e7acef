// Is `shallot load` fast enough to measure the stack rather than itself? Runs, in ONE process,
// the same shallot stack driven (A) by the bench's plain loop and (B) by the CLI's load engine
// (`runLoad`, as `shallot load` runs it: per-request latency, status and layer counts, a
// progress callback on a timer), in alternating blocks, and reports the median B/A ratio of
// req/s. Target (issue 15): >= 0.8 at concurrency 64 against a loopback upstream.
//
//   node bench/cli-load.mjs [--concurrency=64] [--block=4000] [--block-ms=1500] [--pairs=6] [--quick] [--config=stack.json]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flag, median, measure, startHelper } from './loop.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const haveTaskset = spawnSync('taskset', ['-c', '0', 'true']).status === 0 && os.availableParallelism() >= 2;
const quick = flag('quick', 'false') === 'true';
const concurrency = Number(flag('concurrency', '64'));
const block = Number(flag('block', quick ? '3000' : '4000'));
const blockMs = Number(flag('block-ms', quick ? '1000' : '1500'));
const pairs = Number(flag('pairs', quick ? '2' : '6'));
const configFile = flag('config', undefined);

const watchdog = setTimeout(() => {
  process.stderr.write('cli-load.mjs: did not finish in time\n');
  process.exit(3);
}, 170_000);
watchdog.unref();

const args = [join(here, 'upstream.mjs'), '--exit-with-stdin'];
const { info, child: up } = await startHelper(args, { pin: haveTaskset });
const port = info.port;
const url = `http://127.0.0.1:${port}/small`;

const cli = await import('@shallot/cli');
// The CLI's default stack (a total timeout and retry), or the given config file's.
const config = configFile === undefined ? { transport: { kind: 'undici', maxSockets: concurrency }, middlewares: [{ use: 'timeout', totalMs: 30_000 }, { use: 'retry', maxAttempts: 3 }] } : JSON.parse(readFileSync(configFile, 'utf8'));
const client = cli.stackFromConfig(config);

const plain = () => measure(async () => (await client.get(url)).arrayBuffer(), { concurrency, count: block, maxMs: blockMs, record: true });
const engine = async () => {
  const result = await cli.runLoad({ client, method: 'GET', url, requests: block, concurrency, durationMs: blockMs, onProgress: () => {} });
  return { rps: (result.completed * 1000) / result.elapsedMs, errors: result.errors };
};

await plain();
await engine(); // warm both paths
const ratios = [];
for (let p = 0; p < pairs; p++) {
  const r = {};
  for (const v of p % 2 === 0 ? ['plain', 'engine'] : ['engine', 'plain']) r[v] = v === 'plain' ? await plain() : await engine();
  ratios.push(r.engine.rps / r.plain.rps);
  process.stdout.write(`pair ${p + 1}: plain loop ${r.plain.rps.toFixed(0)} req/s, shallot load ${r.engine.rps.toFixed(0)} req/s, ratio ${(r.engine.rps / r.plain.rps).toFixed(3)}\n`);
}
await client.close();
up.stdin.end();
const ratio = median(ratios);
process.stdout.write(`\nshallot load engine vs plain loop, same stack, c${concurrency}: ${ratio.toFixed(3)} x (median of ${pairs} pairs; target >= 0.80): ${ratio >= 0.8 ? 'PASS' : 'FAIL'}${haveTaskset ? '' : ' (unpinned)'}\n`);
