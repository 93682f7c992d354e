/**
 * A token bucket: `rate` tokens per second up to `burst`. `take()` answers
 * 0 when a token was taken, else the seconds until one will be there.
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  #tokens: number;
  #last: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Tokens left after refilling to `now` (ms). */
  remaining(now: number): number {
    this.#refill(now);
    return Math.floor(this.#tokens);
  }

  /** Takes one token at `now` (ms); returns 0, or seconds to wait for one. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return (1 - this.#tokens) / this.rate;
  }

  /** Whether the bucket is full at `now` (then it is as good as new). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.burst;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
      this.#last = now;
    }
  }
}
