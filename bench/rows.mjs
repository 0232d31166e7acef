// The clients the bench compares. Each row is loaded in a process of its own (one client per
// process: loading two distorts both, see /work/shared/BENCH-NOTES.md), so every import here is
// dynamic and happens only for the row that runs.
//
// A row's `create({ origin, sockets })` returns `{ get(path, read), close() }`: `get` sends one GET
// and reads the whole body with `read` ('json' or 'text'), resolving to what it read.
import * as http from 'node:http';

/** Makes `n` no-op middlewares, each a distinct function, as users would write them. */
function noOps(n) {
  return Array.from({ length: n }, () => async (ctx, next) => next());
}

async function shallot({ origin, sockets }, { transport = 'undici', middlewares = [] } = {}) {
  const core = await import('@shallot/core');
  const t = transport === 'undici' ? core.undiciTransport({ maxSockets: sockets }) : core.nodeFetchTransport({ maxSockets: sockets });
  let builder = core.compose();
  for (const m of middlewares) builder = builder.use(m);
  const client = builder.build({ transport: t });
  return {
    get: async (path, read) => (await client.get(origin + path))[read](),
    probe: async (path) => (await client.get(origin + path)).headers.get('x-cache') ?? undefined,
    close: () => client.close(),
  };
}

/**
 * One row per layer alone (its cost over the empty stack is its CPU µs/request minus the
 * `shallot-undici` row's), then the resilient stack a user writes, on both transports.
 */
function layerRows() {
  const layer = (name, label, pkg, exportName, make) => ({
    name,
    label,
    requires: [pkg, exportName],
    async create(env) {
      const factory = await optionalLayer(pkg, exportName);
      return shallot(env, { middlewares: await make(factory) });
    },
  });
  // requestId, metrics, timeout({totalMs}), retry, circuitBreaker, rateLimit (far from its limit), timeout({attemptMs})
  const resilient = async () => {
    const [{ requestId, metrics }, { timeout }, { retry }, { circuitBreaker }, { rateLimit }] = await Promise.all([
      import('@shallot/tracing'),
      import('@shallot/timeout'),
      import('@shallot/retry'),
      import('@shallot/circuit-breaker'),
      import('@shallot/rate-limit'),
    ]);
    return [
      requestId(),
      metrics(),
      timeout({ totalMs: 30_000 }),
      retry({ maxAttempts: 3 }),
      circuitBreaker({ failureThreshold: 5, recoveryTimeoutMs: 30_000 }),
      rateLimit({ limit: 1_000_000_000, intervalMs: 1_000 }),
      timeout({ attemptMs: 10_000 }),
    ];
  };
  return [
    layer('layer-timeout-total', 'shallot + `timeout({ totalMs })`', '@shallot/timeout', 'timeout', (t) => [t({ totalMs: 30_000 })]),
    layer('layer-timeout-attempt', 'shallot + `timeout({ attemptMs })`', '@shallot/timeout', 'timeout', (t) => [t({ attemptMs: 30_000 })]),
    layer('layer-hedge', 'shallot + `hedge({ delayMs: 1000 })` (never fires)', '@shallot/hedge', 'hedge', (h) => [h({ delayMs: 1_000 })]),
    layer('layer-tracing', 'shallot + `tracing()` (no SDK)', '@shallot/tracing', 'tracing', (t) => [t()]),
    layer('layer-request-id', 'shallot + `requestId()`', '@shallot/tracing', 'requestId', (r) => [r()]),
    layer('layer-metrics', 'shallot + `metrics()`', '@shallot/tracing', 'metrics', (m) => [m()]),
    layer('layer-retry', 'shallot + `retry()`', '@shallot/retry', 'retry', (r) => [r()]),
    layer('layer-breaker', 'shallot + `circuitBreaker()` (closed)', '@shallot/circuit-breaker', 'circuitBreaker', (c) => [c()]),
    layer('layer-rate-limit', 'shallot + `rateLimit()` (far from its limit)', '@shallot/rate-limit', 'rateLimit', (r) => [r({ limit: 1_000_000_000, intervalMs: 1_000 })]),
    layer('layer-concurrency', 'shallot + `concurrencyLimit({ max: 1000 })`', '@shallot/rate-limit', 'concurrencyLimit', (c) => [c({ max: 1_000 })]),
    {
      name: 'shallot-resilient-otel',
      label: 'the resilient stack, no `tracing()`, in a process with the OTel SDK and its context manager in use',
      requires: ['@shallot/tracing', 'tracing'],
      async create(env) {
        const api = await import('@opentelemetry/api');
        const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
        api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
        // An instrumented service runs code under a context (its server spans): from then on every
        // promise of the process pays the context manager's hooks, traced or not.
        api.context.with(api.context.active(), () => {});
        return shallot(env, { middlewares: await resilient() });
      },
    },
    {
      name: 'shallot-resilient-traced',
      label: 'the resilient stack + `tracing()` with the OTel SDK (BatchSpanProcessor, no-op exporter)',
      requires: ['@shallot/tracing', 'tracing'],
      async create(env) {
        const [{ tracing }, { BasicTracerProvider, BatchSpanProcessor }, api] = await Promise.all([
          import('@shallot/tracing'),
          import('@opentelemetry/sdk-trace-base'),
          import('@opentelemetry/api'),
        ]);
        const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
        api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
        // A no-op exporter behind the processor production uses: every span is made, ended,
        // batched and handed over, then dropped.
        const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
        const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
        return shallot(env, { middlewares: [tracing({ tracerProvider }), ...(await resilient())] });
      },
    },
    {
      name: 'shallot-resilient',
      label: 'resilient stack: requestId, metrics, timeout total, retry, breaker, rateLimit, timeout attempt (undici)',
      requires: ['@shallot/rate-limit', 'rateLimit'],
      create: async (env) => shallot(env, { middlewares: await resilient() }),
    },
    {
      name: 'shallot-resilient-nf',
      label: 'the same resilient stack on nodeFetchTransport',
      requires: ['@shallot/rate-limit', 'rateLimit'],
      create: async (env) => shallot(env, { transport: 'node-fetch', middlewares: await resilient() }),
    },
  ];
}

/** True when a GET of `url` answers 200 (node:http, so no other HTTP client is loaded). */
function reachable(url) {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
  });
}

/** Resolves the optional layer `name` exported by `pkg`, or undefined when it is not built yet. */
export async function optionalLayer(pkg, name) {
  try {
    const mod = await import(pkg);
    return typeof mod[name] === 'function' ? mod[name] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every row, in table order. `requires` names the optional package a row needs (`[pkg, export]`);
 * `path` maps a body size to the upstream path the row asks for.
 */
export const rows = [
  {
    name: 'undici',
    label: '`undici.request` (Pool, baseline)',
    async create({ origin, sockets }) {
      const { Pool, request } = await import('undici');
      const pool = new Pool(origin, { connections: sockets });
      return {
        get: async (path, read) => (await request(origin + path, { dispatcher: pool })).body[read](),
        close: () => pool.close(),
      };
    },
  },
  {
    name: 'undici-pool',
    label: 'undici `Pool.request({ path })` (no URL parsing)',
    async create({ origin, sockets }) {
      const { Pool } = await import('undici');
      const pool = new Pool(origin, { connections: sockets });
      return {
        get: async (path, read) => (await pool.request({ path, method: 'GET' })).body[read](),
        close: () => pool.close(),
      };
    },
  },
  {
    name: 'fetch',
    label: 'global `fetch`',
    async create({ origin }) {
      return { get: async (path, read) => (await fetch(origin + path))[read](), close: async () => {} };
    },
  },
  {
    name: 'node-fetch',
    label: 'node-fetch 3 (keep-alive agent)',
    async create({ origin, sockets }) {
      const { default: nodeFetch } = await import('node-fetch');
      const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
      return { get: async (path, read) => (await nodeFetch(origin + path, { agent }))[read](), close: async () => agent.destroy() };
    },
  },
  {
    name: 'got',
    label: 'got 14 (keep-alive agent)',
    async create({ origin, sockets }) {
      const { got } = await import('got');
      const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
      const client = got.extend({ agent: { http: agent } });
      return { get: (path, read) => client.get(origin + path)[read](), close: async () => agent.destroy() };
    },
  },
  {
    name: 'ky',
    label: 'ky (global fetch)',
    async create({ origin }) {
      const { default: ky } = await import('ky');
      return { get: (path, read) => ky.get(origin + path)[read](), close: async () => {} };
    },
  },
  {
    name: 'axios',
    label: 'axios (keep-alive agent)',
    async create({ origin, sockets }) {
      const { default: axios } = await import('axios');
      const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
      const client = axios.create({ httpAgent: agent });
      return {
        get: async (path, read) => (await client.get(origin + path, { responseType: read === 'json' ? 'json' : 'text' })).data,
        close: async () => agent.destroy(),
      };
    },
  },
  {
    name: 'shallot-undici',
    label: 'shallot, no middleware, undiciTransport',
    create: (env) => shallot(env, { transport: 'undici' }),
  },
  {
    name: 'shallot-node-fetch',
    label: 'shallot, no middleware, nodeFetchTransport',
    create: (env) => shallot(env, { transport: 'node-fetch' }),
  },
  {
    name: 'shallot-mw10',
    label: 'shallot + 10 no-op middlewares, undici',
    create: (env) => shallot(env, { middlewares: noOps(10) }),
  },
  {
    name: 'shallot-retry',
    label: 'shallot + `retry()`, undici (no failures)',
    requires: ['@shallot/retry', 'retry'],
    async create(env) {
      const retry = await optionalLayer('@shallot/retry', 'retry');
      return shallot(env, { middlewares: [retry()] });
    },
  },
  ...layerRows(),
  {
    name: 'shallot-lb',
    label: 'shallot + `loadBalancer()` round-robin over 3 URLs of the upstream, requests as paths',
    requires: ['@shallot/load-balancer', 'loadBalancer'],
    async create({ origin, sockets }) {
      const loadBalancer = await optionalLayer('@shallot/load-balancer', 'loadBalancer');
      const core = await import('@shallot/core');
      // Three spellings of the one loopback upstream, so the balancer has three endpoints to turn
      // over; a spelling this machine cannot reach (localhost as ::1 only) is left out.
      const port = new URL(origin).port;
      const endpoints = [];
      for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
        const url = `http://${host}:${port}`;
        if (await reachable(`${url}/small`)) endpoints.push(url);
      }
      const perEndpoint = Math.max(1, Math.ceil(sockets / endpoints.length));
      const client = core
        .compose()
        .use(loadBalancer({ endpoints, strategy: 'round-robin' }))
        .build({ transport: core.undiciTransport({ maxSockets: perEndpoint }) });
      return { get: async (path, read) => (await client.get(path))[read](), close: () => client.close() };
    },
  },
  {
    name: 'fetch-gzip',
    label: 'global `fetch`, gzip body (decoded by fetch)',
    path: (size) => `/gzip/${size}`,
    async create({ origin }) {
      return { get: async (path, read) => (await fetch(origin + path))[read](), close: async () => {} };
    },
  },
  {
    name: 'node-fetch-gzip',
    label: 'node-fetch 3, gzip body (decoded by node-fetch)',
    path: (size) => `/gzip/${size}`,
    async create({ origin, sockets }) {
      const { default: nodeFetch } = await import('node-fetch');
      const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
      return { get: async (path, read) => (await nodeFetch(origin + path, { agent }))[read](), close: async () => agent.destroy() };
    },
  },
  {
    name: 'shallot-gzip',
    label: 'shallot undici, gzip body (decoded by shallot)',
    path: (size) => `/gzip/${size}`,
    create: (env) => shallot(env, { transport: 'undici' }),
  },
  {
    name: 'shallot-nf-gzip',
    label: 'shallot node-fetch, gzip body (decoded by shallot)',
    path: (size) => `/gzip/${size}`,
    create: (env) => shallot(env, { transport: 'node-fetch' }),
  },
  {
    name: 'shallot-cache-hit',
    label: 'shallot + `cache()`, HIT (max-age=600)',
    requires: ['@shallot/cache', 'cache'],
    path: (size) => `/cache/${size}`,
    async create(env) {
      const cache = await optionalLayer('@shallot/cache', 'cache');
      return shallot(env, { middlewares: [cache()] });
    },
  },
  {
    name: 'shallot-cache-miss',
    label: 'shallot + `cache()`, MISS (no-store)',
    requires: ['@shallot/cache', 'cache'],
    path: (size) => `/nostore/${size}`,
    async create(env) {
      const cache = await optionalLayer('@shallot/cache', 'cache');
      return shallot(env, { middlewares: [cache()] });
    },
  },
  {
    name: 'shallot-cm',
    label: 'shallot `ConnectionManager` default stack, undici (rate limit far above the load, no hooks, no auth)',
    requires: ['@shallot/connection-manager', 'ConnectionManager'],
    async create({ origin, sockets }) {
      const { ConnectionManager } = await import('@shallot/connection-manager');
      // As a user writes it: the defaults (retries, breaker, 30 s timeout, hooks layer), a pool
      // as large as the concurrency, and a rate limit no bench run comes near.
      const manager = new ConnectionManager({ poolMaxsize: sockets, rateLimitRequests: 1_000_000_000, rateLimitPeriodMs: 1_000 });
      return {
        get: async (path, read) => (await manager.get(origin + path))[read](),
        close: () => manager.close(),
      };
    },
  },
];

/** The path a row asks for with a body of `size` ('small' or 'large'). */
export function pathOf(row, size) {
  return row.path === undefined ? `/${size}` : row.path(size);
}

/** How a body of `size` is read: the small JSON with json(), the 64 KiB one with text(). */
export function readOf(size) {
  return size === 'small' ? 'json' : 'text';
}
