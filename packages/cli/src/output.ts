import type { Writable } from 'node:stream';
import picocolors from 'picocolors';

/** Where a command writes, and how: colours and live updates only on a terminal. */
export interface Io {
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean; columns?: number };
  readonly env: NodeJS.ProcessEnv;
}

/** The colour functions of picocolors, on or off. */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** What a command needs to print: the streams, colours for each, and whether it may redraw. */
export interface Output {
  readonly io: Io;
  /** Colours for stdout: off under `NO_COLOR`, when stdout is not a terminal, or for `TERM=dumb`; on with `FORCE_COLOR`. */
  readonly color: Colors;
  /** Colours for stderr, by the same rules. */
  readonly errColor: Colors;
  /** True when stderr is a terminal that a progress bar may redraw (never under `CI` or `TERM=dumb`). */
  readonly live: boolean;
  /** Writes a line to stdout. */
  out(line?: string): void;
  /** Writes a line to stderr. */
  err(line?: string): void;
}

function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** The output of a command run with `io`. */
export function createOutput(io: Io): Output {
  return {
    io,
    color: picocolors.createColors(colorsFor(io.stdout, io.env)),
    errColor: picocolors.createColors(colorsFor(io.stderr, io.env)),
    live: io.stderr.isTTY === true && io.env.TERM !== 'dumb' && (io.env.CI === undefined || io.env.CI === '' || io.env.CI === 'false'),
    out: (line = '') => void io.stdout.write(`${line}\n`),
    err: (line = '') => void io.stderr.write(`${line}\n`),
  };
}

/** The process's own streams and environment. */
export const processIo: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
