#!/usr/bin/env node --expose-gc
// Measures what cache() really holds against its bound: fills a cache of `maxSizeBytes` well past
// the bound through a loopback upstream (so the LRU is full and evicting), then compares the heap
// and ArrayBuffer growth after a forced GC, less what a client without a cache grows by over the
// same requests, with `maxSizeBytes`. Run from the project root after
// `npm run build`:
//
//   node --expose-gc packages/cache/scripts/measure-memory.mjs [--max-mib 16] [--sizes 256,4096,65536]
import http from 'node:http';
import { parseArgs } from 'node:util';
import { cache } from '@shallot/cache';
import { compose } from '@shallot/core';

const { values } = parseArgs({ options: { 'max-mib': { type: 'string', default: '16' }, sizes: { type: 'string', default: '256,4096,65536' }, json: { type: 'boolean', default: false } } });
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const maxSizeBytes = Number(values['max-mib']) * 1024 * 1024;
const sizes = values.sizes.split(',').map(Number);

// An upstream whose responses look like an API's: a dozen headers, a body of the size asked.
const server = http.createServer((request, response) => {
  const size = Number(new URL(request.url, 'http://x').searchParams.get('size'));
  response.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(size),
    'cache-control': 'public, max-age=3600, stale-while-revalidate=60',
    etag: `"${request.url.length}-${Math.random().toString(36).slice(2)}"`,
    'last-modified': new Date().toUTCString(),
    vary: 'Accept-Encoding',
    'x-request-id': Math.random().toString(36).slice(2),
    server: 'measure/1.0',
    'access-control-allow-origin': '*',
  });
  response.end('x'.repeat(size));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

// Between collections the event loop turns, so that FinalizationRegistry callbacks (the
// transports free what an unread body held that way) run and what they held goes too.
async function used() {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const rows = [];
for (const size of sizes) {
  const count = Math.ceil((3 * maxSizeBytes) / size);
  // The same requests without a cache first: what the client and transport keep of them (pools,
  // caches keyed by URL) is not the cache's, and is taken off.
  const plain = compose().build({ baseUrl: base });
  for (let i = 0; i < 200; i++) await (await plain.get(`/warm/${i}?size=${size}`)).arrayBuffer();
  const plainBefore = await used();
  for (let i = 0; i < count; i++) await (await plain.get(`/plain/${i}?size=${size}`)).arrayBuffer();
  const plainGrowth = (await used()) - plainBefore;
  await plain.close();

  const layer = cache({ maxSizeBytes });
  const client = compose().use(layer).build({ baseUrl: base });
  // Warm-up: the transport's pool, compiled code, the clock's date cache.
  for (let i = 0; i < 200; i++) await (await client.get(`/warm/${i}?size=${size}`)).arrayBuffer();
  await layer.clear();
  const before = await used();
  for (let i = 0; i < count; i++) await (await client.get(`/items/${i}?size=${size}`)).arrayBuffer();
  // Hit what is stored (the newest third of the URLs, at most): a hit keeps per-entry state too.
  for (let i = count - Math.floor(count / 3); i < count; i++) await (await client.get(`/items/${i}?size=${size}`)).arrayBuffer();
  const after = await used();
  const { entries, bytes } = layer.stats();
  const delta = after - before - plainGrowth;
  rows.push({ bodyBytes: size, requests: count, entries, chargedBytes: bytes, heapDeltaBytes: delta, clientGrowthBytes: plainGrowth, ratio: delta / maxSizeBytes });
  await layer.clear();
  await client.close();
}
server.close();
if (values.json) console.log(JSON.stringify({ maxSizeBytes, rows }, null, 2));
else {
  console.log(`maxSizeBytes ${maxSizeBytes} (${values['max-mib']} MiB); heap + ArrayBuffer growth after GC, cache full`);
  for (const r of rows) {
    console.log(
      `  body ${String(r.bodyBytes).padStart(6)} B: ${String(r.entries).padStart(6)} entries, charged ${(r.chargedBytes / 1048576).toFixed(1)} MiB, held ${(r.heapDeltaBytes / 1048576).toFixed(1)} MiB = ${r.ratio.toFixed(2)} x maxSizeBytes (client without cache grew ${(r.clientGrowthBytes / 1048576).toFixed(1)} MiB over the same ${r.requests} requests, taken off)`,
    );
  }
}
