import type { FrameSocket } from "./frame-socket.ts";

/** Options for {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Queued bytes above which `sendData` waits (`writer.ready`). Default 512 KiB. */
  highWaterMark?: number;
}

/**
 * The one writer of an uplink. Every frame goes through the internal queue of
 * one `WritableStream`, which keeps them in order without a lock; the sink
 * sends a frame as one WebSocket message and waits only when the socket asks
 * for a drain. Control frames are queued at once; data producers wait only for
 * `writer.ready`, never for their frame to be sent.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array<ArrayBuffer>>;
  #failed: Error | undefined;
  #onError: (err: Error) => void;

  constructor(socket: FrameSocket, onError: (err: Error) => void, options: FrameWriterOptions = {}) {
    this.#onError = onError;
    const stream = new WritableStream<Uint8Array<ArrayBuffer>>(
      {
        write(frame) {
          if (!socket.send(frame)) return socket.drained();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? 512 * 1024 }),
    );
    this.#writer = stream.getWriter();
  }

  /** Bytes waiting in the queue (negative desired size means over the mark). */
  get queuedBytes(): number {
    return this.#writer.desiredSize === null ? 0 : Math.max(0, -this.#writer.desiredSize);
  }

  /** Queues a control frame (heads, credit, end, reset, ping) without waiting. */
  send(frame: Uint8Array<ArrayBuffer>): void {
    if (this.#failed) return;
    this.#writer.write(frame).catch((err) => this.#fail(err));
  }

  /** Queues a data frame once the queue is below its mark. */
  async sendData(frame: Uint8Array<ArrayBuffer>): Promise<void> {
    await this.#writer.ready;
    if (this.#failed) throw this.#failed;
    this.#writer.write(frame).catch((err) => this.#fail(err));
  }

  /** Stops the writer; queued frames are dropped, waiting producers fail. */
  abort(reason: Error): void {
    if (this.#failed) return;
    this.#failed = reason;
    this.#writer.abort(reason).catch(() => {});
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
    this.#onError(this.#failed);
  }
}
