// Memory over a long run (issue 10): the resilient stack drives N requests (default 1,000,000) at
// concurrency 64 against the bench upstream, and the heap after a forced GC is read at 200k and at
// the end: a layer that leaves something behind per request shows as growth. Then 100,000
// distinct hosts go through the host-keyed layers (breaker, limiter, metrics, hedge, retry budget)
// and their per-key state is checked against the LRU bounds. Not part of CI.
//
//   node --expose-gc bench/memory.mjs [--requests=1000000] [--hosts=100000] [--max-ms=600000]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const flag = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};
const total = Number(flag('requests', '1000000'));
const hosts = Number(flag('hosts', '100000'));
const maxMs = Number(flag('max-ms', '600000'));
if (typeof global.gc !== 'function') {
  process.stderr.write('run with node --expose-gc\n');
  process.exit(2);
}

const upstream = spawn(process.execPath, [fileURLToPath(new URL('upstream.mjs', import.meta.url)), '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => upstream.stdout.once('data', (data) => resolve(JSON.parse(String(data).split('\n')[0]).port)));
const origin = `http://127.0.0.1:${port}`;

const core = await import('@shallot/core');
const { requestId, metrics } = await import('@shallot/tracing');
const { timeout } = await import('@shallot/timeout');
const { retry, retryBudget } = await import('@shallot/retry');
const { circuitBreaker } = await import('@shallot/circuit-breaker');
const { rateLimit } = await import('@shallot/rate-limit');
const { hedge } = await import('@shallot/hedge');

const heapMiB = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};
const started = Date.now();
const inTime = () => Date.now() - started < maxMs;

async function drive(client, count, url, concurrency = 64) {
  let left = count;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0 && inTime()) {
        await (await client.get(typeof url === 'function' ? url(done) : url)).json();
        done++;
      }
    }),
  );
  return done;
}

// Part 1: one host, the resilient stack, a long run.
const stats = metrics();
const client = core
  .compose()
  .use(requestId())
  .use(stats)
  .use(timeout({ totalMs: 30_000 }))
  .use(retry({ maxAttempts: 3 }))
  .use(circuitBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000 }))
  .use(rateLimit({ limit: 1e9, intervalMs: 1_000 }))
  .use(timeout({ attemptMs: 10_000 }))
  .build({ transport: core.undiciTransport({ maxSockets: 64 }) });
const warm = Math.min(20_000, total);
await drive(client, warm, `${origin}/small`);
const atWarm = heapMiB();
const first = Math.min(200_000, total) - warm;
let sent = warm + (await drive(client, first, `${origin}/small`));
const at200k = heapMiB();
sent += await drive(client, total - sent, `${origin}/small`);
const atEnd = heapMiB();
await client.close();
process.stdout.write(`part 1: ${sent.toLocaleString('en-US')} requests in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.stdout.write(`  heap after GC: warm-up ${atWarm.toFixed(1)} MiB, 200k ${at200k.toFixed(1)} MiB, end ${atEnd.toFixed(1)} MiB (end / 200k = ${(atEnd / at200k).toFixed(3)})\n`);

// Part 2: many hosts. A transport that sends every request to the upstream whatever its host,
// so the layers see `hosts` distinct hosts while the wire stays on loopback.
const inner = core.undiciTransport({ maxSockets: 64 });
const anyHost = {
  name: 'any-host',
  send(ctx) {
    ctx.request.url = new URL(`${ctx.request.url.pathname}${ctx.request.url.search}`, origin);
    return inner.send(ctx);
  },
  close: () => inner.close(),
};
const breaker = circuitBreaker({ maxKeys: 10_000 });
const hostStats = metrics({ maxHosts: 1_000 });
const manyHosts = core
  .compose()
  .use(hostStats)
  .use(hedge({ percentile: 95, delayMs: 1_000, maxHosts: 1_000 }))
  .use(retry({ budget: retryBudget({ maxKeys: 1_000 }) }))
  .use(breaker)
  .use(rateLimit({ limit: 1e9, intervalMs: 1_000, key: 'host', maxKeys: 10_000 }))
  .build({ transport: anyHost });
const beforeHosts = heapMiB();
const reached = await drive(manyHosts, hosts, (i) => `http://h${i}.bench.invalid/small`);
const afterHosts = heapMiB();
const circuits = Object.keys(breaker.snapshot().circuits).length;
const hostRecords = Object.keys(hostStats.snapshot().hosts).length;
await manyHosts.close();
process.stdout.write(`part 2: ${reached.toLocaleString('en-US')} requests to as many distinct hosts\n`);
process.stdout.write(`  circuits kept ${circuits} (maxKeys 10,000), metrics hosts ${hostRecords} (maxHosts 1,000)\n`);
process.stdout.write(`  heap after GC: before ${beforeHosts.toFixed(1)} MiB, after ${afterHosts.toFixed(1)} MiB\n`);
upstream.stdin.end();
