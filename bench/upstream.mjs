// The loopback upstream of the bench: node:http with keep-alive, run in a process of its own
// (pinned to one core by run.mjs / paired.mjs). Prints `{"port":N}` on stdout once listening,
// and exits on SIGTERM, when its parent closes stdin (--exit-with-stdin), or after --max-ms.
import * as http from 'node:http';
import { gzipSync } from 'node:zlib';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};

/** A ~109-byte JSON document, the BENCH-NOTES small body. */
export const smallBody = Buffer.from(
  JSON.stringify({ id: 123, name: 'shallot', tags: ['http', 'client', 'bench'], active: true, score: 0.9, updated: '2025-01-01' }),
);

/** A 64 KiB JSON document (an array of strings), read as text by the clients. */
export const largeBody = (() => {
  const size = 64 * 1024;
  const parts = [];
  let length = 2;
  for (let i = 0; length < size - 80; i++) {
    const item = JSON.stringify(`item-${i}-${'x'.repeat(40)}`);
    parts.push(item);
    length += item.length + 1;
  }
  let json = `[${parts.join(',')}]`;
  // Pad the last string so the document is exactly 64 KiB.
  const missing = size - Buffer.byteLength(json);
  json = `[${parts.join(',')},${JSON.stringify('p'.repeat(Math.max(0, missing - 3)))}]`;
  return Buffer.from(json);
})();

// Paths: /small, /large (no caching headers), /cache/{small,large} (max-age=600),
// /nostore/{small,large} (no-store), /gzip/{small,large} (the body gzip-encoded, compressed once).
function route(url) {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const slash = path.lastIndexOf('/');
  const size = path.slice(slash + 1);
  const prefix = path.slice(0, slash);
  const body = size === 'small' ? smallBody : size === 'large' ? largeBody : undefined;
  if (body === undefined) return undefined;
  if (prefix === '/gzip') {
    const encoded = gzipSync(body);
    return { body: encoded, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(encoded.length) } };
  }
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  if (prefix === '/cache') headers['cache-control'] = 'max-age=600';
  else if (prefix === '/nostore') headers['cache-control'] = 'no-store';
  else if (prefix !== '') return undefined;
  return { body, headers };
}

const routes = new Map();
for (const prefix of ['', '/cache', '/nostore', '/gzip']) for (const size of ['small', 'large']) routes.set(`${prefix}/${size}`, route(`${prefix}/${size}`));

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    const hit = routes.get(req.url) ?? route(req.url);
    if (hit === undefined) {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    // Drain any request body, then answer.
    req.resume();
    res.writeHead(200, hit.headers);
    res.end(hit.body);
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  const maxMs = Number(arg('max-ms', String(30 * 60_000)));
  const stop = () => {
    server.closeAllConnections?.();
    server.close();
    process.exit(0);
  };
  const guard = setTimeout(stop, maxMs);
  guard.unref();
  if (process.argv.includes('--exit-with-stdin')) {
    // The parent holds our stdin: when it goes away, so do we.
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }
  process.on('SIGTERM', stop);
  server.listen(Number(arg('port', '0')), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port, small: smallBody.length, large: largeBody.length })}\n`);
  });
}
