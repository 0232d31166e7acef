// In-process cost of each layer's success path, without sockets: a transport that answers at
// once with the same Response, 64 callers at a time, CPU time per request. Every variant runs in
// alternating blocks in one process (BENCH-NOTES: small overheads are only visible in pairs), and
// the table prints each layer's µs/request over the empty stack. `npm run bench:layers [-- a,b]`.
import { compose } from '@shallot/core';

const [{ timeout }, { hedge }, { retry }, { tracing, requestId, metrics }, { circuitBreaker }, { rateLimit, concurrencyLimit }, { hooks, HookRegistry }, { auth }, { ConnectionManager }, { loadBalancer }] =
  await Promise.all([
    import('@shallot/timeout'),
    import('@shallot/hedge'),
    import('@shallot/retry'),
    import('@shallot/tracing'),
    import('@shallot/circuit-breaker'),
    import('@shallot/rate-limit'),
    import('@shallot/hooks'),
    import('@shallot/auth'),
    import('@shallot/connection-manager'),
    import('@shallot/load-balancer'),
  ]);

const response = new Response(null, { status: 200 });
const transport = { name: 'null', send: async () => response, close: async () => {} };
const build = (middlewares) => middlewares.reduce((builder, m) => builder.use(m), compose()).build({ transport });

const variants = {
  bare: () => [],
  'timeout-total': () => [timeout({ totalMs: 30_000 })],
  'timeout-attempt': () => [timeout({ attemptMs: 30_000 })],
  hedge: () => [hedge({ delayMs: 1_000 })],
  tracing: () => [tracing()],
  'request-id': () => [requestId()],
  metrics: () => [metrics()],
  retry: () => [retry()],
  breaker: () => [circuitBreaker()],
  'rate-limit': () => [rateLimit({ limit: 1e9, intervalMs: 1_000 })],
  concurrency: () => [concurrencyLimit({ max: 1_000 })],
  'hooks-none': () => [hooks(new HookRegistry())],
  'hooks-three': () => {
    const registry = new HookRegistry();
    registry.registerPreRequestHook(() => {});
    registry.registerPostResponseHook(() => {});
    registry.registerErrorHook(() => {});
    return [hooks(registry)];
  },
  'auth-off': () => [auth()],
  'auth-bearer': () => [auth({ bearer: 'token' })],
  // Round-robin over three endpoints; its requests are given as paths (see `paths` below).
  'load-balancer': () => [loadBalancer({ endpoints: ['http://127.0.0.1:9', 'http://127.0.0.1:10', 'http://127.0.0.1:11'] })],
  resilient: () => [
    requestId(),
    metrics(),
    timeout({ totalMs: 30_000 }),
    retry({ maxAttempts: 3 }),
    circuitBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000 }),
    rateLimit({ limit: 1e9, intervalMs: 1_000 }),
    timeout({ attemptMs: 10_000 }),
  ],
};

const only = process.argv[2]?.split(',');
const clients = Object.fromEntries(
  Object.entries(variants)
    .filter(([name]) => only === undefined || only.includes(name) || name === 'bare')
    .map(([name, make]) => [name, build(make())]),
);
// The ConnectionManager's default stack as a user writes it, on the same instant transport.
if (only === undefined || only.includes('connection-manager')) {
  clients['connection-manager'] = new ConnectionManager({ transport, rateLimitRequests: 1e9, rateLimitPeriodMs: 1_000 });
}
const url = 'http://127.0.0.1:9/x';
// Variants whose requests are given as a bare path, the balancer choosing the origin.
const paths = new Set(['load-balancer']);

async function block(name, client, count) {
  const target = paths.has(name) ? '/x' : url;
  let left = count;
  const worker = async () => {
    while (left-- > 0) await client.get(target);
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: 64 }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

for (const [name, client] of Object.entries(clients)) await block(name, client, 20_000);
const samples = {};
for (let round = 0; round < 8; round++) {
  for (const [name, client] of Object.entries(clients)) (samples[name] ??= []).push(await block(name, client, 50_000));
}
const median = (list) => list.slice().sort((a, b) => a - b)[list.length >> 1];
const base = median(samples.bare);
process.stdout.write('| variant | µs CPU/request | over the empty stack |\n| --- | ---: | ---: |\n');
for (const [name, list] of Object.entries(samples)) {
  const us = median(list);
  process.stdout.write(`| ${name} | ${us.toFixed(2)} | ${name === 'bare' ? '' : `+${(us - base).toFixed(2)}`} |\n`);
}
await Promise.all(Object.values(clients).map((client) => client.close()));
