/** One log method: pino's signature, an optional object of fields first, then a message. */
export interface LogFn {
  (fields: object, message?: string): void;
  (message: string): void;
}

/**
 * A pino-compatible logger: pass a pino logger (or anything with these methods). Shallot logs
 * through `ctx.log`, which is silent by default.
 */
export interface Logger {
  trace?: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** A logger with `bindings` added to every line (pino's `child`). */
  child?(bindings: object): Logger;
}

const noop = (): void => {};

/** A logger that writes nothing: the default. */
export const silentLogger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };
