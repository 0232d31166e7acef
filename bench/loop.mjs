// The measuring loop shared by client.mjs and paired.mjs: `concurrency` workers share a request
// budget; every loop is bounded by a count AND by a time limit.

/**
 * Runs `fn` up to `count` times with `concurrency` in flight, stopping early once `maxMs` have
 * passed (requests in flight then finish). Returns req/s, latency percentiles (ms), client CPU
 * per request (µs, user + system) and errors.
 */
export async function measure(fn, { concurrency, count, maxMs, record = true }) {
  const latencies = record ? new Float64Array(count) : undefined;
  let issued = 0;
  let completed = 0;
  let errors = 0;
  let firstError;
  const started = performance.now();
  const deadline = started + maxMs;
  const cpu0 = process.cpuUsage();
  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      const i = issued++;
      const t0 = performance.now();
      try {
        await fn();
      } catch (error) {
        errors++;
        firstError ??= error;
        // Stop everything on a broken client rather than measuring failures.
        if (errors > 10) issued = count;
        continue;
      }
      if (latencies !== undefined) latencies[i] = performance.now() - t0;
      completed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const result = {
    completed,
    errors,
    error: firstError === undefined ? undefined : String(firstError?.stack ?? firstError).split('\n').slice(0, 3).join(' | '),
    elapsedMs,
    rps: completed / (elapsedMs / 1000),
    cpuUsPerReq: completed === 0 ? NaN : (cpu.user + cpu.system) / completed,
  };
  if (latencies !== undefined) {
    // Failed slots stay 0; keep only the recorded ones (issued may exceed completed by errors).
    const done = latencies.subarray(0, Math.min(issued, count)).filter((v) => v > 0).sort();
    result.p50 = percentile(done, 0.5);
    result.p99 = percentile(done, 0.99);
  }
  return result;
}

/** The `q` quantile (0..1) of sorted `values`, nearest rank. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The median of numbers (NaN ignored). */
export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Heap used after forced full GCs, in MiB (NaN without --expose-gc). */
export function heapAfterGc() {
  if (typeof globalThis.gc !== 'function') return NaN;
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed / 1048576;
}

/**
 * Reads `--name=value` from argv (`--name` alone is 'true', `--no-name` is 'false'), else env
 * `BENCH_NAME` (upper case, dashes as underscores), else `fallback`.
 */
export function flag(name, fallback, argv = process.argv) {
  const hit = argv.findLast((a) => a === `--${name}` || a === `--no-${name}` || a.startsWith(`--${name}=`));
  if (hit !== undefined) return hit === `--${name}` ? 'true' : hit === `--no-${name}` ? 'false' : hit.slice(name.length + 3);
  const env = process.env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  return env === undefined || env === '' ? fallback : env;
}

/**
 * Starts a helper process (an upstream, the backends) with `args`, pinned to core 1 when `pin`,
 * and waits for the JSON line it prints once listening. Returns that object and the child
 * (closing its stdin stops a helper started with `--exit-with-stdin`).
 */
export async function startHelper(args, { pin, what = 'the upstream' }) {
  const { spawn } = await import('node:child_process');
  const child = pin ? spawn('taskset', ['-c', '1', process.execPath, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start in 10 s`)), 10_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      if (buffer.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(buffer.slice(0, buffer.indexOf('\n'))));
      }
    });
  });
  return { info, child };
}
