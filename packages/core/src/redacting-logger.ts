import type { Logger } from './logger.js';
import { type RedactionOptions, redactJson, redactText } from './redact.js';

const levels = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

function redactArgument(value: unknown, options: RedactionOptions | undefined): unknown {
  return typeof value === 'string' ? redactText(value, options) : redactJson(value, options);
}

/**
 * Wraps a pino-compatible logger so that nothing it writes carries a secret: the fields object
 * goes through {@link redactJson} (sensitive keys at any depth, `Headers`, URLs, errors), the
 * message and any printf arguments through {@link redactText}. `child(bindings)` returns a
 * redacting logger too; every other member (`level`, `isLevelEnabled`, `flush`...) is the
 * wrapped logger's own.
 *
 * @example
 * const client = compose().use(tracing()).build({ logger: redactingLogger(pino({ level: 'debug' })) });
 */
export function redactingLogger<L extends Logger>(logger: L, options?: RedactionOptions): L {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(logger, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const cached = wrapped.get(property);
      if (cached !== undefined) return cached;
      let replacement: unknown;
      if (levels.has(property)) {
        const log = value as (...args: unknown[]) => void;
        replacement = function redactedLog(...args: unknown[]): void {
          log.apply(target, args.map((arg) => redactArgument(arg, options)));
        };
      } else if (property === 'child') {
        const child = value as (bindings: object, ...rest: unknown[]) => Logger;
        replacement = function redactedChild(bindings: object, ...rest: unknown[]): Logger {
          return redactingLogger(child.call(target, redactJson(bindings, options) as object, ...rest), options);
        };
      } else {
        replacement = (value as (...args: unknown[]) => unknown).bind(target);
      }
      wrapped.set(property, replacement);
      return replacement;
    },
  });
}
