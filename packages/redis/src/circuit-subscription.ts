import type { CircuitBreakerRecord } from '@shallot/circuit-breaker';
import { quit } from './connection.js';
import type { RedisClient } from './options.js';

/** A circuit write published by the compare-and-set script. */
export interface CircuitMessage {
  readonly version: string;
  readonly writer: string;
  readonly key: string;
  readonly record: CircuitBreakerRecord;
}

/** Reads `version \n writer \n key (JSON) \n record (JSON)`; undefined for anything else. */
function parseMessage(message: string): CircuitMessage | undefined {
  const a = message.indexOf('\n');
  const b = message.indexOf('\n', a + 1);
  const c = message.indexOf('\n', b + 1);
  if (a < 0 || b < 0 || c < 0) return undefined;
  try {
    const key: unknown = JSON.parse(message.slice(b + 1, c));
    const record = JSON.parse(message.slice(c + 1)) as CircuitBreakerRecord;
    if (typeof key !== 'string' || typeof record !== 'object' || record === null) return undefined;
    return { version: message.slice(0, a), writer: message.slice(a + 1, b), key, record };
  } catch {
    return undefined;
  }
}

const ignore = (): void => {};

/**
 * The channel every circuit write is published on, heard on a connection of its own (a
 * subscribed connection can send nothing else). Local copies can be trusted only while the
 * subscription is active and since it last became so: `epoch` counts those periods, and a copy
 * read in an earlier one is read again from Redis.
 */
export class CircuitSubscription {
  /** Bumped whenever copies read before can no longer be trusted. */
  epoch = 0;
  /** True while writes are being heard. */
  active = false;
  private closing = false;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    onMessage: (message: CircuitMessage) => void,
  ) {
    client.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      const parsed = parseMessage(message);
      if (parsed !== undefined) onMessage(parsed);
    });
    // ioredis subscribes again by itself after a reconnect; asking here tells us when it is done.
    client.on('ready', this.subscribe);
    client.on('close', () => {
      this.active = false;
      this.epoch++;
    });
    this.subscribe();
  }

  /** Makes every copy read so far untrusted (Redis was unreachable for a while). */
  invalidate(): void {
    this.epoch++;
  }

  async close(): Promise<void> {
    this.closing = true;
    this.active = false;
    await quit(this.client);
  }

  private readonly subscribe = (): void => {
    this.client.subscribe(this.channel).then(() => {
      if (this.closing) return;
      this.active = true;
      this.epoch++;
    }, ignore);
  };
}
