import type { Logger } from '@shallot/core';
import type { TestServer } from '@shallot/testing';

/** Both transports, for `describe.each`. */
export const transports = ['undici', 'node-fetch'] as const;

/** `host:port` of a test server: an endpoint pattern that covers it alone. */
export const hostOf = (server: TestServer): string => new URL(server.url).host;

/** What a request route saw, as the echo route returns it. */
export type Echoed = Record<string, string | undefined>;

/** A route answering with the request headers it received. */
export function echo(server: TestServer, path = '/echo'): void {
  server.route(path, (req, res) => void res.end(JSON.stringify(req.headers)));
}

/** One line a {@link recordingLogger} got. */
export interface LogLine {
  readonly level: string;
  readonly fields: unknown;
  readonly message: string | undefined;
}

/** A pino-compatible logger that keeps every line, serialised as a log shipper would write it. */
export function recordingLogger(): Logger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (fields: unknown, message?: string): void => {
      if (typeof fields === 'string') lines.push({ level, fields: {}, message: fields });
      else lines.push({ level, fields, message });
    };
  return {
    lines,
    text: () => JSON.stringify(lines),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** The error `fn` throws (fails the test if it returns). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
