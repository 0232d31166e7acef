// What an abort signal costs undici per request (c64, small body, raw Pool.request): none, the
// one-object stand-in shallot's transports pass (TransportSignal), or an AbortController's
// signal. Upstream in its own process. `node bench/signal-cost.mjs` (pin it: taskset -c 0).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TransportSignal, rootScope } from '@shallot/core';
import { Pool } from 'undici';

const upstream = spawn(process.execPath, [fileURLToPath(new URL('upstream.mjs', import.meta.url)), '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((resolve) => upstream.stdout.once('data', (data) => resolve(JSON.parse(String(data).split('\n')[0]).port)));
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64 });
const variants = {
  'no signal': async () => (await pool.request({ path: '/small', method: 'GET' })).body.json(),
  TransportSignal: async () => (await pool.request({ path: '/small', method: 'GET', signal: new TransportSignal(rootScope) })).body.json(),
  AbortController: async () => (await pool.request({ path: '/small', method: 'GET', signal: new AbortController().signal })).body.json(),
};
async function block(run, count) {
  let left = count;
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (left-- > 0) await run();
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}
for (const run of Object.values(variants)) await block(run, 3_000);
const samples = {};
for (let round = 0; round < 8; round++) for (const [name, run] of Object.entries(variants)) (samples[name] ??= []).push(await block(run, 5_000));
const median = (list) => list.slice().sort((a, b) => a - b)[list.length >> 1];
for (const [name, list] of Object.entries(samples)) process.stdout.write(`${name.padEnd(16)} ${median(list).toFixed(1)} µs CPU/request\n`);
await pool.close();
upstream.stdin.end();
