import { createHash } from 'node:crypto';
import { expireAfter, realClock, silentLogger } from '@shallot/core';
import { Redis } from 'ioredis';
import { RedisStoreTimeoutError } from './errors.js';
import { StoreHealth } from './health.js';
import type { RedisClient, ResolvedRedisConnectionOptions } from './options.js';

/** A Lua script, sent by its SHA1 (EVALSHA) and by its source when Redis does not know it yet. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

/** Names a Lua script by its SHA1, as `SCRIPT LOAD` would. */
export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

type Argument = string | number | Buffer;

const ignore = (): void => {};

/**
 * What a store needs of Redis: its client (the user's, or one opened from `url`), key names,
 * commands bounded by `timeoutMs`, and the store's health (degraded or not).
 */
export class RedisConnection {
  readonly client: RedisClient;
  readonly health: StoreHealth;
  private readonly owned: boolean;
  private readonly timeoutMs: number;
  private readonly prefix: string;
  private everReady: boolean;
  private closing = false;
  private readonly detach: () => void;

  constructor(options: ResolvedRedisConnectionOptions, name: string) {
    this.prefix = options.keyPrefix;
    this.timeoutMs = options.timeoutMs;
    if (options.client !== undefined) {
      this.client = options.client;
      this.owned = false;
    } else {
      this.client = new Redis(options.url!, {
        // A command cut off by a lost connection fails at once instead of being replayed later
        // (a rate-limit token taken after the request gave up on it would be wasted).
        maxRetriesPerRequest: 0,
        retryStrategy: (times) => Math.min(50 * times, 1_000),
      });
      this.owned = true;
    }
    this.everReady = this.client.status === 'ready';
    this.health = new StoreHealth(name, options.logger ?? silentLogger, options.healthCheckIntervalMs, () => this.ping());
    const onReady = (): void => {
      this.everReady = true;
      this.health.probe();
    };
    // Do not wait for the next command to time out: a closed connection is known to be down.
    const onClose = (): void => {
      if (this.everReady && !this.closing) this.health.fail(new Error('the connection to Redis closed'));
    };
    this.client.on('ready', onReady);
    this.client.on('close', onClose);
    // Our own connection's errors are reported through the store's health, not as unhandled 'error' events.
    if (this.owned) this.client.on('error', ignore);
    this.detach = () => {
      this.client.off('ready', onReady);
      this.client.off('close', onClose);
    };
  }

  /** The Redis key of `key` for a store of `kind`, hash-tagged so a cluster keeps it in one slot. */
  key(kind: string, key: string): string {
    return `{${this.prefix}${kind}:${key}}`;
  }

  /** A pub/sub channel name for a store of `kind`. */
  channel(kind: string): string {
    return `${this.prefix}${kind}`;
  }

  /**
   * True when a command may be sent: the store is not degraded, and the client is connected
   * (or still making its first connection, when commands wait in ioredis' offline queue, bounded
   * by `timeoutMs`).
   */
  usable(): boolean {
    if (this.health.degraded || this.closing) return false;
    const status = this.client.status;
    return status === 'ready' || (!this.everReady && status !== 'end' && status !== 'close');
  }

  /**
   * Sends a command, bounded by `timeoutMs`. The bound is core's shared deadline timer (one
   * timer for every command of the same timeout), not a timer per command.
   */
  call<T>(send: (client: RedisClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const expiry = expireAfter(realClock, this.timeoutMs, () => reject(new RedisStoreTimeoutError(this.timeoutMs)));
      const settle =
        <V>(finish: (value: V) => void) =>
        (value: V): void => {
          expiry.cancel();
          finish(value);
        };
      try {
        send(this.client).then(settle(resolve), settle(reject));
      } catch (error) {
        settle(reject)(error);
      }
    });
  }

  /** Runs a Lua script (EVALSHA, then EVAL when the server does not have it), bounded by `timeoutMs`. */
  eval(script: LuaScript, keys: readonly string[], args: readonly Argument[]): Promise<unknown> {
    return this.call(async (client) => {
      try {
        return await client.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return await client.eval(script.source, keys.length, ...keys, ...args);
      }
    });
  }

  /** A second connection to the same Redis (for pub/sub), with its errors handled. */
  duplicate(): RedisClient {
    const copy = this.client.duplicate();
    copy.on('error', ignore);
    return copy;
  }

  /** Stops health checks and closes the connection if the store opened it. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.health.stop();
    this.detach();
    if (this.owned) await quit(this.client);
  }

  private async ping(): Promise<void> {
    const status = this.client.status;
    if (this.closing || (status !== 'ready' && status !== 'wait')) throw new Error(`the Redis connection is ${status}`);
    await this.call((client) => client.ping());
  }
}

/** Closes a connection politely, or at once if Redis does not answer. */
export async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    // QUIT waits for the replies still due; a Redis that hangs gets a second, then the socket is cut.
    let timer: NodeJS.Timeout | undefined;
    const cutOff = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
    await Promise.race([client.quit().then(ignore, ignore), cutOff]);
    clearTimeout(timer);
  }
  client.disconnect();
}
