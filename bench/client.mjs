// One bench client run, in a process of its own: `node --expose-gc bench/client.mjs --row=NAME
// --origin=URL --concurrency=N --size=small|large --warmup=N --count=N --warmup-ms=MS --max-ms=MS
// [--sockets=N]`. Warms up, measures, and prints one JSON line with the result.
import { flag, heapAfterGc, measure } from './loop.mjs';
import { pathOf, readOf, rows } from './rows.mjs';

const name = flag('row', undefined);
const origin = flag('origin', undefined);
const concurrency = Number(flag('concurrency', '1'));
const size = flag('size', 'small');
const warmup = Number(flag('warmup', '1000'));
const count = Number(flag('count', '10000'));
const warmupMs = Number(flag('warmup-ms', '1000'));
const maxMs = Number(flag('max-ms', '1500'));
const sockets = Number(flag('sockets', String(concurrency)));

const row = rows.find((r) => r.name === name);
if (row === undefined || origin === undefined) {
  process.stderr.write(`client.mjs: unknown row ${name} or no --origin\n`);
  process.exit(2);
}

// A hung client must not hang the bench: give up well after both phases' time bounds.
const watchdog = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ row: name, error: 'watchdog: the client did not finish in time' })}\n`);
  process.exit(3);
}, warmupMs + maxMs + 15_000);
watchdog.unref();

const path = pathOf(row, size);
const read = readOf(size);
const client = await row.create({ origin, sockets });

// Check once that the client reads the whole body.
const first = await client.get(path, read);
const expectOk = read === 'json' ? first?.id === 123 : typeof first === 'string' && first.length === 65536;
if (!expectOk) {
  process.stdout.write(`${JSON.stringify({ row: name, error: `unexpected body: ${String(JSON.stringify(first)).slice(0, 80)}` })}\n`);
  process.exit(4);
}

const one = () => client.get(path, read);
const warm = await measure(one, { concurrency, count: warmup, maxMs: warmupMs, record: false });
const heapBefore = heapAfterGc();
const result = await measure(one, { concurrency, count, maxMs });
const heapAfter = heapAfterGc();
const note = client.probe === undefined || row.path === undefined ? undefined : await client.probe(path);
await client.close();
clearTimeout(watchdog);
process.stdout.write(
  `${JSON.stringify({ row: name, concurrency, size, sockets, warmup: warm.completed, ...result, heapBeforeMiB: heapBefore, heapAfterMiB: heapAfter, xCache: note })}\n`,
);
