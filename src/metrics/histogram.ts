/** Upper bounds (ms) of the latency buckets: 1 ms to 30 s. */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** Upper bounds (ms) for queue waits, which are mostly well under 1 ms: 10 µs to 30 s. */
export const WAIT_BUCKETS_MS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, ...LATENCY_BUCKETS_MS];

/** A cumulative-ready histogram with fixed buckets, as Prometheus exposes them. */
export class Histogram {
  readonly bounds: readonly number[];
  /** counts[i] = observations ≤ bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: number[];
  sum = 0;
  count = 0;
  /** The smallest and largest observation, which bound every estimate; ±Infinity when unknown (after since()). */
  min = Infinity;
  max = -Infinity;

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
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  /** Adds another histogram with the same buckets. */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i] += other.counts[i];
    this.sum += other.sum;
    this.count += other.count;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** A copy of the counts as they are now. */
  copy(): Histogram {
    const h = new Histogram(this.bounds);
    h.add(this);
    return h;
  }

  /** The observations made since `earlier`, a copy of this histogram taken before. */
  since(earlier: Histogram): Histogram {
    const h = new Histogram(this.bounds);
    for (let i = 0; i < h.counts.length; i++) h.counts[i] = this.counts[i] - earlier.counts[i];
    h.sum = this.sum - earlier.sum;
    h.count = this.count - earlier.count;
    // Which observations came since is not known: no bounds.
    h.min = -Infinity;
    h.max = Infinity;
    return h;
  }

  /** Estimated quantile (0..1), linear within the bucket and never beyond what was observed; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    return Math.min(this.max, Math.max(this.min, this.#estimate(q)));
  }

  #estimate(q: number): number {
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
