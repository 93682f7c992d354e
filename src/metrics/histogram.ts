/** Upper bounds (ms) of the latency buckets: 1 ms to 30 s. */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** A cumulative-ready histogram with fixed buckets, as Prometheus exposes them. */
export class Histogram {
  readonly bounds: readonly number[];
  /** counts[i] = observations ≤ bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS_MS) {
    this.bounds = bounds;
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }

  /** Adds another histogram with the same buckets. */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.sum += other.sum;
    this.count += other.count;
  }

  /** Estimated quantile (0..1), linear within the bucket; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      if (seen + this.counts[i] >= rank && this.counts[i] > 0) {
        const lower = i === 0 ? 0 : this.bounds[i - 1];
        const upper = i < this.bounds.length ? this.bounds[i] : this.bounds[this.bounds.length - 1];
        return lower + (upper - lower) * ((rank - seen) / this.counts[i]);
      }
      seen += this.counts[i];
    }
    return this.bounds[this.bounds.length - 1];
  }
}
