// Helpers of the Redis store tests: Redis at REDIS_URL (found by global-setup.ts), a key prefix
// per test, a redis-server of a test's own to stop and start, and worker processes.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@shallot/testing';
import { Redis } from 'ioredis';
import { describe, inject } from 'vitest';

/** The Redis the tests use ('' when none answers). */
export const redisUrl = inject('redisUrl');
/** The redis-server binary ('' when there is none). */
export const redisServerBinary = inject('redisServer');
/** `describe`, skipped when no Redis answers (global-setup.ts said why, once). */
export const describeWithRedis = describe.skipIf(redisUrl === '');
/** `describe`, skipped unless tests can also start and stop a redis-server of their own. */
export const describeWithRedisServer = describe.skipIf(redisUrl === '' || redisServerBinary === '');

/** A key prefix no other test (or run) uses. */
export function testPrefix(name: string): string {
  return `shallot-test:${name}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Removes every key a test made under `prefix` (keys are hash-tagged: `{<prefix>...}`). */
export async function removeKeys(client: Redis, prefix: string): Promise<void> {
  const pattern = `*${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}

/** Calls per command, from `INFO commandstats` (`{ evalsha: 10, get: 3 }`). */
export async function commandCounts(client: Redis): Promise<Record<string, number>> {
  const info = await client.info('commandstats');
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2]);
  return counts;
}

/** Commands sent between two `commandCounts()`, leaving out the INFO calls themselves. */
export function commandsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [name, calls] of Object.entries(after)) {
    const n = calls - (before[name] ?? 0) - (name === 'info' ? 1 : 0);
    if (n > 0) delta[name] = n;
  }
  return delta;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A redis-server of a test's own, on a free loopback port: no persistence, stopped and started at will. */
export class OwnRedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: readonly string[] = [],
    private readonly cwd: string | undefined = undefined,
  ) {}

  /** Starts one; `extraArgs` go to redis-server, which runs in `cwd` (where it writes its files). */
  static async start(extraArgs: readonly string[] = [], cwd?: string): Promise<OwnRedisServer> {
    const server = new OwnRedisServer(await freePort(), extraArgs, cwd);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True while its process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts it (again, on the same port) and waits until it answers. */
  async start(): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.extraArgs];
    this.child = spawn(redisServerBinary, args, { stdio: 'ignore', cwd: this.cwd });
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await waitFor(
        async () => {
          try {
            await probe.connect();
            return (await probe.ping()) === 'PONG';
          } catch {
            probe.disconnect();
            return false;
          }
        },
        { timeoutMs: 5_000, intervalMs: 20 },
      );
    } finally {
      probe.disconnect();
    }
  }

  /** Stops it (SIGKILL: as abrupt as a crash) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Undoes {@link freeze}. */
  thaw(): void {
    this.child?.kill('SIGCONT');
  }
}

/** What a worker's `onStateChange` reported. */
export interface StateEvent {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly at: number;
}

/** What a worker's request ended with. */
export interface Outcome {
  readonly status?: number;
  readonly code?: string;
  readonly xCache?: string | null;
  readonly at: number;
}

/** Configuration of a worker process (see fixtures/fleet-worker.mjs). */
export interface WorkerConfig {
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly baseUrl: string;
  readonly timeoutMs?: number;
  readonly cache?: boolean;
  readonly rateLimit?: Record<string, unknown>;
  readonly breaker?: Record<string, unknown>;
}

const workerScript = fileURLToPath(new URL('./fixtures/fleet-worker.mjs', import.meta.url));

/** A separate Node.js process with its own shallot client and Redis connections. */
export class FleetWorker {
  readonly events: StateEvent[] = [];
  private nextId = 0;
  private readonly replies = new Map<number, (result: unknown) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: { id?: number; result?: unknown; event?: string } & Partial<StateEvent>) => {
      if (message.event === 'state') this.events.push(message as StateEvent);
      else if (message.id !== undefined) {
        this.replies.get(message.id)?.(message.result);
        this.replies.delete(message.id);
      }
    });
  }

  static async start(config: WorkerConfig): Promise<FleetWorker> {
    const child = fork(workerScript, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const worker = new FleetWorker(child);
    await new Promise<void>((resolve, reject) => {
      child.on('message', (message: { ready?: boolean }) => message.ready === true && resolve());
      child.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it was ready`)));
    });
    return worker;
  }

  /** Runs an operation in the worker and returns its result. */
  ask<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.replies.set(id, resolve as (result: unknown) => void);
      this.child.send({ id, op, ...args });
    });
  }

  /** Ends the process at once, as a crash would. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Closes its client and stores, then lets it exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    void this.ask('close');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  }
}
