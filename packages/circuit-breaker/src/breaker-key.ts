import type { BaseContext } from '@shallot/core';
import type { ResolvedCircuitBreakerOptions } from './options.js';

const defaultPorts: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** `host:port` of a URL, with the scheme's default port filled in. */
export function hostKey(url: URL): string {
  return `${url.hostname}:${url.port || defaultPorts[url.protocol] || ''}`;
}

/** Turns the `key` option into a function from context to circuit key. */
export function breakerKey(key: ResolvedCircuitBreakerOptions['key']): (ctx: BaseContext) => string {
  if (key === 'host') return (ctx) => hostKey(ctx.request.url);
  if (key === 'global') return () => 'global';
  return (ctx) => {
    const value = key(ctx);
    if (typeof value !== 'string') throw new TypeError(`circuitBreaker.key: the key function returned ${typeof value}, expected a string`);
    return value;
  };
}
