import { ResetCode } from "../protocol/constants.ts";
import type { MuxStream } from "../mux/mux-stream.ts";

/** A request waiting for its response head. */
interface Waiting {
  stream: MuxStream;
  deadline: number;
  signal: AbortSignal;
  settled: boolean;
  /** Set once the visitor is watched. */
  onAbort: (() => void) | undefined;
}

/** How often the sweep runs, and how long a request waits before its visitor is watched. */
const SWEEP_MS = 50;

/**
 * Response-head deadlines and visitor departures for all waiting requests,
 * from one sweep timer instead of a timer and an abort listener per request.
 * Requests all share one timeout, so arrival order is deadline order: the
 * queue is checked from the front and stops at the first one not yet due.
 * A visitor is watched (abort listener) only once its request has waited a
 * sweep, so the many fast requests never pay for a listener.
 */
export class HeadDeadlines {
  #timeoutMs: number;
  #queue: Waiting[] = [];
  #head = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** Tracks a stream until `settle()` is called on the returned handle. */
  track(stream: MuxStream, signal: AbortSignal): { settle(): void } {
    const waiting: Waiting = { stream, deadline: Date.now() + this.#timeoutMs, signal, settled: false, onAbort: undefined };
    this.#queue.push(waiting);
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS);
    return {
      settle: () => {
        waiting.settled = true;
        if (waiting.onAbort) waiting.signal.removeEventListener("abort", waiting.onAbort);
      },
    };
  }

  #sweep(): void {
    const now = Date.now();
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const w = queue[this.#head];
      if (!w.settled && w.deadline > now) break;
      if (!w.settled) w.stream.reset(ResetCode.Timeout, `No response head within ${this.#timeoutMs} ms`);
      queue[this.#head++] = undefined as unknown as Waiting;
    }
    for (let i = this.#head; i < queue.length; i++) {
      const w = queue[i];
      if (w.settled || w.onAbort) continue;
      if (w.signal.aborted) {
        w.stream.reset(ResetCode.Cancel, "Visitor disconnected");
        continue;
      }
      w.onAbort = () => w.stream.reset(ResetCode.Cancel, "Visitor disconnected");
      w.signal.addEventListener("abort", w.onAbort, { once: true });
    }
    if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#queue.length) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#queue = [];
      this.#head = 0;
    }
  }
}
