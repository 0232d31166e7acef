import { spawn } from 'node:child_process';
import * as http from 'node:http';
const core = await import('@shallot/core');
const { default: nodeFetch } = await import('node-fetch');
const up = spawn(process.execPath, ['bench/upstream.mjs', '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
const port = await new Promise((r) => up.stdout.once('data', (d) => r(JSON.parse(String(d).split('\n')[0]).port)));
const origin = `http://127.0.0.1:${port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
const client = core.compose().build({ transport: core.nodeFetchTransport({ maxSockets: 64 }) });
const { timeout } = await import('@shallot/timeout');
const client2 = core.compose().use(timeout({ totalMs: 30000 })).build({ transport: core.nodeFetchTransport({ maxSockets: 64 }) });
const variants = {
  raw: async () => (await nodeFetch(origin + '/small', { agent })).json(),
  shallot: async () => (await client.get(origin + '/small')).json(),
  timeout: async () => (await client2.get(origin + '/small')).json(),
};
const which = process.argv[2]?.split(',') ?? Object.keys(variants);
async function block(fn, n) { let left = n; const c0 = process.cpuUsage(); await Promise.all(Array.from({ length: 64 }, async () => { while (left-- > 0) await fn(); })); const c = process.cpuUsage(c0); return (c.user + c.system) / n; }
for (const k of which) await block(variants[k], 3000);
const res = {};
for (let i = 0; i < 6; i++) for (const k of which) (res[k] ??= []).push(await block(variants[k], 4000));
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
for (const [k, r] of Object.entries(res)) console.log(k, med(r).toFixed(1), 'µs CPU/req');
await client.close(); await client2.close(); agent.destroy(); up.stdin.end();
