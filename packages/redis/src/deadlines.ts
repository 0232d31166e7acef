import { RedisStoreTimeoutError } from './errors.js';

interface Pending {
  readonly deadline: number;
  settled: boolean;
  readonly reject: (error: unknown) => void;
}

/**
 * Bounds every command of a connection by the same `timeoutMs` with one timer for all of them,
 * rather than a timer per command. Commands share one timeout, so they expire in the order they
 * were sent: a queue, swept when its oldest deadline passes.
 */
export class CommandDeadlines {
  private pending: Pending[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /** Runs `send`, rejecting with `RedisStoreTimeoutError` if it has not settled within `timeoutMs`. */
  run<T>(send: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.timeoutMs, settled: false, reject };
      this.pending.push(entry);
      if (this.timer === undefined) this.arm();
      const settleWith = (settle: () => void): void => {
        if (entry.settled) return;
        entry.settled = true;
        settle();
      };
      try {
        send().then(
          (value) => settleWith(() => resolve(value)),
          (error: unknown) => settleWith(() => reject(error)),
        );
      } catch (error) {
        settleWith(() => reject(error));
      }
    });
  }

  /** Rejects every command still pending (the connection is closing). */
  clear(): void {
    for (let i = this.head; i < this.pending.length; i++) {
      const entry = this.pending[i]!;
      if (entry.settled) continue;
      entry.settled = true;
      entry.reject(new RedisStoreTimeoutError(this.timeoutMs));
    }
    this.pending = [];
    this.head = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const delay = Math.max(0, this.pending[this.head]!.deadline - performance.now());
    this.timer = setTimeout(this.sweep, Math.ceil(delay) + 1);
    this.timer.unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.pending.length) {
      const entry = this.pending[this.head]!;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        entry.reject(new RedisStoreTimeoutError(this.timeoutMs));
      }
      this.head++;
    }
    if (this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else {
      if (this.head > 1024) {
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
      this.arm();
    }
  };
}
