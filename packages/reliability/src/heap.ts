import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/**
 * Forces full garbage collections and returns the heap in use afterwards, in bytes. Turns on
 * `--expose_gc` at run time (no command-line flag needed). A few passes, a turn of the event
 * loop apart, so finalizers (unread bodies freed on GC) run and what they release is collected.
 */
export async function heapAfterGc(passes = 3): Promise<number> {
  if (collect === undefined) {
    setFlagsFromString('--expose_gc');
    collect = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < passes; i++) {
    collect();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}
