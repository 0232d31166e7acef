import { parseOptions } from '@shallot/core';
import { z } from 'zod';
import type { CircuitBreakerRecord } from './state-machine.js';

/** Every circuit a breaker knows, as plain JSON-safe data (see `breaker.snapshot()`). */
export interface CircuitBreakerSnapshot {
  readonly version: 1;
  /** When it was taken (clock ms). */
  readonly takenAt: number;
  /** The records by key, least recently used first. */
  readonly circuits: Readonly<Record<string, CircuitBreakerRecord>>;
}

const count = z.number().int().min(0);
const time = z.number().finite();

const recordSchema = z.object({
  state: z.enum(['closed', 'open', 'half-open', 'isolated']),
  generation: count,
  counter: z.unknown(),
  openedAt: time,
  halfOpenAt: time,
  reopens: count,
  probes: count,
  successes: count,
  probeLeaseUntil: time.optional(),
});

const snapshotSchema = z.object({
  version: z.literal(1),
  takenAt: time,
  circuits: z.record(z.string(), recordSchema),
});

/** Checks a snapshot read back from JSON before it is trusted. */
export function parseSnapshot(input: unknown): CircuitBreakerSnapshot {
  return parseOptions(snapshotSchema, input, 'circuitBreaker.hydrate') as CircuitBreakerSnapshot;
}
