/**
 * A stream's send window: how many DATA bytes may go out before the peer
 * grants more credit. `take()` waits while the window is empty.
 */
export class SendWindow {
  #available: number;
  #waiter: { resolve: () => void; reject: (err: Error) => void } | undefined;
  #failed: Error | undefined;
  /** Times a sender found the window empty and had to wait. */
  stalls = 0;

  constructor(initial: number) {
    this.#available = initial;
  }

  get available(): number {
    return this.#available;
  }

  /** Takes up to `max` bytes of window, waiting while none is left. */
  async take(max: number): Promise<number> {
    while (this.#available <= 0) {
      if (this.#failed) throw this.#failed;
      this.stalls++;
      await new Promise<void>((resolve, reject) => {
        this.#waiter = { resolve, reject };
      });
    }
    if (this.#failed) throw this.#failed;
    const n = Math.min(max, this.#available);
    this.#available -= n;
    return n;
  }

  /** Takes `n` bytes that the caller checked are available. */
  takeNow(n: number): void {
    if (n > this.#available) throw new RangeError(`Window has ${this.#available} bytes, not ${n}`);
    this.#available -= n;
  }

  /** Adds credit from a WindowUpdate. */
  grant(bytes: number): void {
    this.#available += bytes;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve();
  }

  /** Fails the waiting sender and every later `take()`. */
  fail(err: Error): void {
    this.#failed ??= err;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(err);
  }
}
