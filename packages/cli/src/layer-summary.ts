import type { Colors } from './output.js';

const ms = (n: number): string => `${Math.round(n)} ms`;

type Describe = (value: Record<string, unknown>, c: Colors) => string | undefined;

// How the keys of this repository's layers read; any other key is printed as JSON.
const known: Record<string, Describe> = {
  retry: (v) => {
    const delays = (v.delaysMs as number[] | undefined) ?? [];
    const attempts = Number(v.attempt ?? 1);
    if (attempts <= 1) return 'first attempt answered';
    return `${attempts} attempts, waited ${delays.map(ms).join(', ')}${v.exhausted === true ? ' (gave up)' : ''}`;
  },
  cache: (v, c) => {
    const status = String(v.status);
    const colour = status === 'HIT' ? c.green : status === 'MISS' ? c.yellow : c.cyan;
    return `${colour(status)}${v.staleReason === undefined ? '' : ` (${String(v.staleReason)})`}${v.coalesced === true ? ', coalesced' : ''}`;
  },
  circuitBreaker: (v, c) => {
    const state = String(v.state);
    return `${String(v.key)} ${state === 'closed' ? c.green(state) : state === 'open' ? c.red(state) : c.yellow(state)}`;
  },
  rateLimit: (v) => (Number(v.waitedMs ?? 0) > 0 ? `waited ${ms(Number(v.waitedMs))} for a token` : 'token free') + (v.key === undefined ? '' : ` (key ${String(v.key)})`),
  auth: (v) => (v.scope === undefined ? 'no credentials' : `${v.scope === 'global' ? 'global' : `endpoint ${String(v.scope)}`} credentials${v.refreshed === true ? ', token refreshed after a 401' : ''}`),
  hedge: (v) => (v.hedged === true ? `${String(v.copies)} copies sent, copy ${Number(v.winner) + 1} answered first` : 'no copy sent'),
};

const labels: Record<string, string> = { circuitBreaker: 'circuit breaker', rateLimit: 'rate limit' };

/** One line per layer key left on a context: `retry: 3 attempts, waited 100 ms, 210 ms`. */
export function describeLayers(layers: Record<string, unknown>, c: Colors): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(layers)) {
    const describe = known[key];
    const text = describe !== undefined && value !== null && typeof value === 'object' ? describe(value as Record<string, unknown>, c) : JSON.stringify(value);
    if (text !== undefined) lines.push(`${c.bold(labels[key] ?? key)}: ${text}`);
  }
  return lines;
}
