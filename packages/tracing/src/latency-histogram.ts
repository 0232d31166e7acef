/** Latency percentiles and bounds, in milliseconds (all 0 while `count` is 0). */
export interface LatencySummary {
  /** Values recorded. */
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Median, within 5 % of the exact value. */
  readonly p50: number;
  /** 95th percentile, within 5 % of the exact value. */
  readonly p95: number;
  /** 99th percentile, within 5 % of the exact value. */
  readonly p99: number;
}

const lowestMs = 0.01;
const highestMs = 3_600_000;
const growth = 1.1;
const logGrowth = Math.log(growth);
/** Log-spaced buckets from 10 µs to one hour, each 10 % wider than the last: 207 of them. */
const bucketCount = Math.ceil(Math.log(highestMs / lowestMs) / logGrowth);

/**
 * A fixed-size latency histogram: an underflow bucket (< 10 µs), 207 buckets growing by 10 %
 * up to one hour, and an overflow bucket, plus the exact count, sum, min and max. Memory is the
 * same after ten requests or ten million. A percentile is read as the geometric middle of the
 * bucket holding it, clamped to [min, max]: at most 4.9 % from the exact value (nearest rank).
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(bucketCount + 2);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Records one value in milliseconds (negative and non-finite values are ignored). */
  record(ms: number): void {
    if (!(ms >= 0) || ms === Infinity) return;
    let index: number;
    if (ms < lowestMs) index = 0;
    else index = Math.min(bucketCount + 1, 1 + Math.floor(Math.log(ms / lowestMs) / logGrowth));
    this.#counts[index] = (this.#counts[index] as number) + 1;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds another histogram's values to this one. */
  merge(other: LatencyHistogram): void {
    const counts = other.#counts;
    for (let i = 0; i < counts.length; i++) this.#counts[i] = (this.#counts[i] as number) + (counts[i] as number);
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  /** The value at quantile `q` (0 < q <= 1), by nearest rank. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    let index = 0;
    for (; index < this.#counts.length; index++) {
      seen += this.#counts[index] as number;
      if (seen >= rank) break;
    }
    let estimate: number;
    if (index === 0) estimate = lowestMs / 2;
    else if (index > bucketCount) estimate = this.#max;
    else estimate = lowestMs * growth ** (index - 0.5);
    return Math.min(this.#max, Math.max(this.#min, estimate));
  }

  /** Count, bounds, mean and p50/p95/p99. */
  summary(): LatencySummary {
    if (this.#count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 };
    return {
      count: this.#count,
      min: this.#min,
      max: this.#max,
      mean: this.#sum / this.#count,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
    };
  }
}
