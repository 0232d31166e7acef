import type { BaseContext } from '@shallot/core';
import type { LimitKey } from './options.js';

const defaultPorts: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Turns the `key` option into a function from context to bucket key (`undefined`: not limited). */
export function limitKey(key: LimitKey, factory: string): (ctx: BaseContext) => string | undefined {
  if (key === 'global') return () => 'global';
  if (key === 'host') {
    return (ctx) => {
      const url = ctx.request.url;
      return `${url.hostname}:${url.port || defaultPorts[url.protocol] || ''}`;
    };
  }
  if (typeof key === 'object') {
    const name = key.header;
    return (ctx) => ctx.request.headers.get(name) ?? undefined;
  }
  return (ctx) => {
    const value = key(ctx);
    if (value !== undefined && typeof value !== 'string') {
      throw new TypeError(`${factory}.key: the key function returned ${typeof value}, expected a string or undefined`);
    }
    return value;
  };
}
