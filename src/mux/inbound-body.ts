import { joinBytes } from "../protocol/bytes.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";

/** Callbacks of {@linkcode InboundBody}. */
export interface InboundBodyOptions {
  /** The receive window advertised to the peer for this stream. */
  window: number;
  /** Called with bytes to return to the peer as credit. */
  onCredit: (bytes: number) => void;
  /** Called when the reader cancels the body (visitor or target went away). */
  onCancel: (reason: unknown) => void;
  /** Called once when the reader is done: it took the end, met the error, or cancelled. */
  onDone?: () => void;
  /** Largest the window may grow to for a fast reader. Default 16 × window, at most 4 MiB. */
  maxWindow?: number;
}

/** Half a window consumed this soon after the last credit means the window is the bottleneck. */
const GROW_WITHIN_MS = 20;

/**
 * The receiving half of a stream: DATA payloads queue here until the reader
 * takes them, and credit goes back to the sender only as the reader consumes
 * (once half the window is used, yamux style). The queue never holds more
 * than the window: a peer that overruns it is a protocol error.
 *
 * Read it either as a `ReadableStream` ({@linkcode readable}, made on first
 * use) or whole ({@linkcode readAll}, which skips stream machinery for the
 * many small bodies).
 */
export class InboundBody {
  #queue: Uint8Array[] = [];
  #remaining: number;
  #consumed = 0;
  #window: number;
  #ended = false;
  #error: unknown = undefined;
  #done = false;
  #options: InboundBodyOptions;
  #maxWindow: number;
  #lastCredit = -Infinity;
  #readable: ReadableStream<Uint8Array> | undefined;
  /** Wakes the current reader (stream pull or readAll) when something arrives. */
  #wake: (() => void) | undefined;

  constructor(options: InboundBodyOptions) {
    this.#options = options;
    this.#window = options.window;
    this.#remaining = options.window;
    this.#maxWindow = options.maxWindow ?? Math.max(options.window, Math.min(16 * options.window, 4 * 1024 * 1024));
  }

  /** The body as a stream; pulling it is what returns credit. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          const step = () => {
            if (this.#done) return true;
            if (this.#error !== undefined) {
              this.#finish();
              controller.error(this.#error);
              return true;
            }
            const chunk = this.#take();
            if (chunk) {
              controller.enqueue(chunk);
              return true;
            }
            if (this.#ended) {
              this.#finish();
              controller.close();
              return true;
            }
            return false;
          };
          if (step()) return;
          return new Promise<void>((resolve) => {
            this.#wake = () => {
              if (step()) {
                this.#wake = undefined;
                resolve();
              }
            };
          });
        },
        cancel: (reason) => {
          this.#finish();
          this.#queue = [];
          this.#options.onCancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
    return this.#readable;
  }

  /** Reads the whole body into one buffer (for bodies known to be small). */
  readAll(): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const parts: Uint8Array[] = [];
      let total = 0;
      const step = () => {
        if (this.#error !== undefined) {
          this.#finish();
          reject(this.#error);
          return true;
        }
        for (let chunk = this.#take(); chunk; chunk = this.#take()) {
          parts.push(chunk);
          total += chunk.byteLength;
        }
        if (!this.#ended) return false;
        this.#finish();
        resolve(parts.length === 1 ? parts[0] : joinBytes(parts, total));
        return true;
      };
      if (!step()) {
        this.#wake = () => {
          if (step()) this.#wake = undefined;
        };
      }
    });
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#options.onDone?.();
  }

  /** Bytes received and not yet handed to the reader. */
  get buffered(): number {
    return this.#window - this.#remaining - this.#consumed;
  }


  /** Adds a DATA payload; throws ProtocolError when it overruns the window. */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength > this.#remaining) {
      throw new ProtocolError(
        `Window overrun: ${chunk.byteLength} bytes sent, ${this.#remaining} allowed`,
      );
    }
    this.#remaining -= chunk.byteLength;
    if (this.#done || chunk.byteLength === 0) return;
    this.#queue.push(chunk);
    this.#wake?.();
  }

  /** The sender finished the body. */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /**
   * The stream broke: the reader sees this error after nothing more. A body
   * the sender already ended is complete and stays readable.
   */
  error(reason: unknown): void {
    if (this.#done || this.#ended) return;
    this.#error = reason ?? new Error("Stream reset");
    this.#queue = [];
    this.#wake?.();
  }

  /** Current receive window (grows for readers that keep up). */
  get window(): number {
    return this.#window;
  }

  /**
   * Hands the next chunk to the reader and returns credit as due. A reader
   * that consumed half a window within GROW_WITHIN_MS of the last credit is
   * limited by the window, not by itself: the window doubles (extra credit),
   * up to `maxWindow`. A reader that stalls never grows its window, so what
   * a stalled stream can pin stays at the initial window.
   */
  #take(): Uint8Array | undefined {
    const chunk = this.#queue.shift();
    if (!chunk) return undefined;
    this.#consumed += chunk.byteLength;
    if (!this.#ended && this.#consumed >= this.#window / 2) {
      let credit = this.#consumed;
      this.#consumed = 0;
      const now = performance.now();
      if (now - this.#lastCredit < GROW_WITHIN_MS && this.#window < this.#maxWindow) {
        const growth = Math.min(this.#window, this.#maxWindow - this.#window);
        this.#window += growth;
        credit += growth;
      }
      this.#lastCredit = now;
      this.#remaining += credit;
      this.#options.onCredit(credit);
    }
    return chunk;
  }
}
