import { ProtocolError } from "../protocol/protocol-error.ts";

/** Callbacks of {@linkcode InboundBody}. */
export interface InboundBodyOptions {
  /** The receive window advertised to the peer for this stream. */
  window: number;
  /** Called with bytes to return to the peer as credit. */
  onCredit: (bytes: number) => void;
  /** Called when the reader cancels the body (visitor or target went away). */
  onCancel: (reason: unknown) => void;
}

/**
 * The receiving half of a stream: DATA payloads queue here until the reader
 * pulls them, and credit goes back to the sender only as the reader consumes
 * (once half the window is used, yamux style). The queue never holds more
 * than the window: a peer that overruns it is a protocol error.
 */
export class InboundBody {
  readonly readable: ReadableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #remaining: number;
  #consumed = 0;
  #window: number;
  #ended = false;
  #error: unknown = undefined;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #pulling = false;
  #done = false;
  #options: InboundBodyOptions;

  constructor(options: InboundBodyOptions) {
    this.#options = options;
    this.#window = options.window;
    this.#remaining = options.window;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#pulling = true;
          this.#deliver();
        },
        cancel: (reason) => {
          this.#done = true;
          this.#queue = [];
          options.onCancel(reason);
        },
      },
      { highWaterMark: 0 },
    );
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
    if (this.#done) return;
    if (chunk.byteLength > 0) this.#queue.push(chunk);
    this.#deliver();
  }

  /** The sender finished the body. */
  end(): void {
    this.#ended = true;
    this.#deliver();
  }

  /**
   * The stream broke: the reader sees this error after nothing more. A body
   * the sender already ended is complete and stays readable.
   */
  error(reason: unknown): void {
    if (this.#done || this.#ended) return;
    this.#error = reason ?? new Error("Stream reset");
    this.#queue = [];
    this.#deliver();
  }

  #deliver(): void {
    if (this.#done) return;
    if (this.#error !== undefined) {
      this.#done = true;
      this.#controller.error(this.#error);
      return;
    }
    if (this.#pulling && this.#queue.length > 0) {
      this.#pulling = false;
      const chunk = this.#queue.shift()!;
      this.#controller.enqueue(chunk);
      this.#credit(chunk.byteLength);
    }
    if (this.#ended && this.#queue.length === 0) {
      this.#done = true;
      this.#controller.close();
    }
  }

  #credit(bytes: number): void {
    this.#consumed += bytes;
    if (!this.#ended && this.#consumed >= this.#window / 2) {
      const credit = this.#consumed;
      this.#consumed = 0;
      this.#remaining += credit;
      this.#options.onCredit(credit);
    }
  }
}
