/** The last `size` latencies of one host, in a ring, with a cached percentile. */
class Window {
  readonly #samples: Float64Array;
  #count = 0;
  #next = 0;
  #sinceSorted = Infinity;
  #sorted: Float64Array | undefined;

  constructor(size: number) {
    this.#samples = new Float64Array(size);
  }

  get count(): number {
    return this.#count;
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#samples.length;
    if (this.#count < this.#samples.length) this.#count++;
    this.#sinceSorted++;
  }

  percentile(p: number): number {
    // Re-sort after a tenth of the window has changed, not on every request.
    if (this.#sorted === undefined || this.#sinceSorted * 10 >= this.#count) {
      this.#sorted = this.#samples.slice(0, this.#count).sort();
      this.#sinceSorted = 0;
    }
    const sorted = this.#sorted;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank] as number;
  }
}

/** Recent latencies per host, bounded in samples per host and in hosts. */
export class LatencyTracker {
  readonly #hosts = new Map<string, Window>();
  readonly #size: number;
  readonly #maxHosts: number;

  constructor(size: number, maxHosts: number) {
    this.#size = size;
    this.#maxHosts = maxHosts;
  }

  record(host: string, ms: number): void {
    let window = this.#hosts.get(host);
    if (window === undefined) {
      if (this.#hosts.size >= this.#maxHosts) this.#hosts.delete(this.#hosts.keys().next().value as string);
      window = new Window(this.#size);
      this.#hosts.set(host, window);
    }
    window.add(ms);
  }

  /** The `p`th percentile of `host`'s recent latencies, or `undefined` with fewer than `minSamples`. */
  percentile(host: string, p: number, minSamples: number): number | undefined {
    const window = this.#hosts.get(host);
    if (window === undefined || window.count < minSamples) return undefined;
    return window.percentile(p);
  }
}
