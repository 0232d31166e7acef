// `npm run bench:redis`: the cost of the Redis stores on the hot path (a closed circuit, a rate
// limit far from reached), as µs per request and Redis commands per request, against the same
// layers on their memory stores and a bare client, measured in the same run.
//
// The upstream is bench/upstream.mjs in a process of its own; Redis is a redis-server this script
// starts on a free port (so `INFO commandstats` counts nothing but ours), or, without the binary
// or with --redis-url=URL, the Redis at that URL (REDIS_URL, default redis://127.0.0.1:6379),
// whose command counts then include whatever else talks to it.
//
// Round trips are counted on the client side (the stores get ioredis clients whose sendCommand
// counts); INFO commandstats counts what Redis ran, the commands inside a Lua script included.
//
// Flags: --count=N (counted requests per configuration and round, default 5000),
// --concurrency=a,b (default 1,16), --rounds=N (default 3; medians are printed), --no-build.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};
const count = Number(arg('count', '5000'));
const concurrencies = arg('concurrency', '1,16').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const warmup = Math.min(1_000, count);

if (!process.argv.includes('--no-build')) execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/redis')], { stdio: 'inherit' });

const { compose, undiciTransport } = await import('@shallot/core');
const { rateLimit } = await import('@shallot/rate-limit');
const { circuitBreaker } = await import('@shallot/circuit-breaker');
const { redisCircuitBreakerStore, redisRateLimitStore } = await import('@shallot/redis');
const { Redis } = await import('ioredis');

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** A redis-server of our own, or the one at the URL given. */
async function startRedis() {
  const given = arg('redis-url', undefined);
  const binary = which('redis-server');
  if (given !== undefined || binary === '') {
    const url = given ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    return { url, own: false, stop: async () => {} };
  }
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { retryStrategy: (n) => (n > 50 ? null : 20) });
  await probe.ping();
  probe.disconnect();
  return {
    url,
    own: true,
    stop: async () => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

async function startUpstream() {
  const child = spawn(process.execPath, [join(here, 'upstream.mjs'), '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [chunk] = await once(child.stdout, 'data');
  const { port } = JSON.parse(String(chunk).split('\n')[0]);
  return { origin: `http://127.0.0.1:${port}`, stop: () => child.stdin.end() };
}

const redis = await startRedis();
const upstream = await startUpstream();
const admin = new Redis(redis.url);
let prefixes = 0;

/** Calls per command from INFO commandstats (which also counts the commands run inside a script). */
async function commandCounts() {
  const info = await admin.info('commandstats');
  const counts = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[m[1]] = Number(m[2]);
  return { counts, sent };
}

const farLimit = { limit: 1_000_000_000, intervalMs: 1_000 };
/** Commands the stores' clients sent (round trips), counted on the client side. */
let sent = 0;
const clients = [];
function countingClient() {
  const client = new Redis(redis.url);
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, stream) => {
    sent++;
    return send(command, stream);
  };
  clients.push(client);
  return client;
}
const connection = () => ({ client: countingClient(), keyPrefix: `bench:${process.pid}:${prefixes++}:`, timeoutMs: 1_000 });

/** The configurations measured; each makes its layers and the stores to close afterwards. */
const configurations = [
  { name: 'bare (no layer)', make: () => ({ layers: [], stores: [] }) },
  { name: 'rateLimit, memory store', make: () => ({ layers: [rateLimit(farLimit)], stores: [] }) },
  {
    name: 'rateLimit, redisRateLimitStore',
    make: () => {
      const store = redisRateLimitStore(connection());
      return { layers: [rateLimit({ ...farLimit, store })], stores: [store] };
    },
  },
  { name: 'circuitBreaker, memory store', make: () => ({ layers: [circuitBreaker()], stores: [] }) },
  {
    name: 'circuitBreaker, redisCircuitBreakerStore',
    make: () => {
      const store = redisCircuitBreakerStore(connection());
      return { layers: [circuitBreaker({ store })], stores: [store] };
    },
  },
  {
    name: 'rateLimit + circuitBreaker, both Redis',
    make: () => {
      const limiter = redisRateLimitStore(connection());
      const breaker = redisCircuitBreakerStore(connection());
      return { layers: [rateLimit({ ...farLimit, store: limiter }), circuitBreaker({ store: breaker })], stores: [limiter, breaker] };
    },
  },
];

async function drive(client, n, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const response = await client.get(`${upstream.origin}/small`);
      await response.json();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function measure(configuration, concurrency) {
  const { layers, stores } = configuration.make();
  let builder = compose();
  for (const layer of layers) builder = builder.use(layer);
  const client = builder.build({ transport: undiciTransport({ maxSockets: concurrency }) });
  try {
    await drive(client, warmup, concurrency);
    // Let the breaker store's subscription settle, so the counted phase sees the steady state.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await drive(client, 10, concurrency);
    const before = await commandCounts();
    const cpu = process.cpuUsage();
    const started = process.hrtime.bigint();
    await drive(client, count, concurrency);
    const elapsedUs = Number(process.hrtime.bigint() - started) / 1_000;
    const { user, system } = process.cpuUsage(cpu);
    const after = await commandCounts();
    const commands = {};
    for (const [name, calls] of Object.entries(after.counts)) {
      const delta = calls - (before.counts[name] ?? 0) - (name === 'info' ? 1 : 0);
      if (delta > 0) commands[name] = delta;
    }
    const degraded = stores.some((s) => s.degraded);
    return { usPerRequest: elapsedUs / count, cpuUsPerRequest: (user + system) / count, commands, sent: after.sent - before.sent, degraded };
  } finally {
    await client.close();
    for (const store of stores) await store.close();
    for (const redisClient of clients.splice(0)) redisClient.disconnect();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = new Map();
for (let round = 0; round < rounds; round++) {
  for (const concurrency of concurrencies) {
    // A fresh order each round, so no configuration always runs first.
    const order = [...configurations].sort(() => Math.random() - 0.5);
    for (const configuration of order) {
      const result = await measure(configuration, concurrency);
      const key = `${concurrency}|${configuration.name}`;
      results.set(key, [...(results.get(key) ?? []), result]);
    }
  }
}

const load = (await import('node:os')).loadavg().map((n) => n.toFixed(2)).join(' ');
console.log(`\nRedis stores on the hot path: ${count} counted requests per configuration, ${rounds} round(s), medians;`);
console.log(`Redis ${redis.own ? 'of our own (commands counted exactly)' : `at ${redis.url} (counts include other clients)`}; Node ${process.version}; load average ${load}.\n`);
for (const concurrency of concurrencies) {
  console.log(`#### concurrency ${concurrency}\n`);
  console.log('| configuration | µs/request (wall) | CPU µs/request | commands sent (round trips)/request | commands run/request (commandstats, script internals included) |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const { name } of configurations) {
    const runs = results.get(`${concurrency}|${name}`);
    const requests = runs.length * count;
    const commands = {};
    for (const run of runs) for (const [c, n] of Object.entries(run.commands)) commands[c] = (commands[c] ?? 0) + n;
    const sent = runs.reduce((n, run) => n + run.sent, 0) / requests;
    const seen = Object.entries(commands).map(([c, n]) => `${c} ${(n / requests).toFixed(3)}`).join(', ') || 'none';
    const flag = runs.some((r) => r.degraded) ? ' (degraded during the run!)' : '';
    console.log(
      `| ${name}${flag} | ${median(runs.map((r) => r.usPerRequest)).toFixed(1)} | ${median(runs.map((r) => r.cpuUsPerRequest)).toFixed(1)} | ${sent.toFixed(3)} | ${seen} |`,
    );
  }
  console.log('');
}

admin.disconnect();
upstream.stop();
await redis.stop();
