import { joinBytes } from "../protocol/bytes.ts";
import { BATCH_FLUSH_BYTES } from "../protocol/constants.ts";
import type { FrameSocket } from "./frame-socket.ts";

/** Options for {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Queued bytes above which `sendData` waits (`writer.ready`). Default 512 KiB. */
  highWaterMark?: number;
  /** Observes how long frames wait in the queue before the sink takes them (ms), one frame in {@linkcode WAIT_SAMPLE_EVERY}. */
  onWait?: (ms: number) => void;
}

/** Queue waits are timed for one frame in this many: a uniform sample of the wait, at a fraction of the clock reads. */
export const WAIT_SAMPLE_EVERY = 16;

/**
 * The one writer of an uplink. Every frame goes through the internal queue of
 * one `WritableStream`, which keeps them in order without a lock. Control
 * frames are queued at once; data producers wait only for `writer.ready`,
 * never for their frame to be sent.
 *
 * The sink batches: frames are gathered into one WebSocket message until the
 * batch reaches 64 KiB or the queue runs empty, and then sent at the end of
 * the current event-loop turn (`setImmediate`, a few µs). So the request heads
 * of every visitor request that arrived in one turn, or a response head and
 * its body, cost one message and one write instead of one each. The sink
 * waits only when the socket asks for a drain.
 */
export class FrameWriter {
  #writer: WritableStreamDefaultWriter<Uint8Array<ArrayBuffer>>;
  #failed: Error | undefined;
  #onError: (err: Error) => void;
  /** Frames written to the stream and not yet handed to the sink. */
  #pending = 0;
  #batch: Uint8Array<ArrayBuffer>[] = [];
  #batchBytes = 0;
  #flushScheduled = false;
  /** The last send asked for a drain: the next write waits for it. */
  #mustDrain = false;
  #socket: FrameSocket;
  /** Enqueue times of the sampled frames not yet taken by the sink (only when observed). */
  #enqueuedAt: number[] = [];
  #timed: boolean;
  /** Frames queued and frames taken, counted to pick the sampled ones (only when observed). */
  #queuedCount = 0;
  #takenCount = 0;
  /** Messages sent, and frames in them (for the batching ratio). */
  messages = 0;
  frames = 0;

  constructor(socket: FrameSocket, onError: (err: Error) => void, options: FrameWriterOptions = {}) {
    this.#onError = onError;
    this.#socket = socket;
    const onWait = options.onWait;
    this.#timed = onWait !== undefined;
    const stream = new WritableStream<Uint8Array<ArrayBuffer>>(
      {
        write: (frame) => {
          this.#pending--;
          if (onWait && this.#takenCount++ % WAIT_SAMPLE_EVERY === 0) onWait(performance.now() - this.#enqueuedAt.shift()!);
          this.#batch.push(frame);
          this.#batchBytes += frame.byteLength;
          if (this.#batchBytes >= BATCH_FLUSH_BYTES) this.#flush();
          else if (this.#pending === 0 && !this.#flushScheduled) {
            this.#flushScheduled = true;
            setImmediate(this.#flushLater);
          }
          if (this.#mustDrain) {
            this.#mustDrain = false;
            return socket.drained();
          }
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
    this.#pending++;
    if (this.#timed && this.#queuedCount++ % WAIT_SAMPLE_EVERY === 0) this.#enqueuedAt.push(performance.now());
    this.#writer.write(frame).catch((err) => this.#fail(err));
  }

  /** Queues a data frame once the queue is below its mark. */
  async sendData(frame: Uint8Array<ArrayBuffer>): Promise<void> {
    await this.#writer.ready;
    if (this.#failed) throw this.#failed;
    this.#pending++;
    if (this.#timed && this.#queuedCount++ % WAIT_SAMPLE_EVERY === 0) this.#enqueuedAt.push(performance.now());
    this.#writer.write(frame).catch((err) => this.#fail(err));
  }

  /** Stops the writer; queued frames are dropped, waiting producers fail. */
  abort(reason: Error): void {
    if (this.#failed) return;
    this.#failed = reason;
    this.#writer.abort(reason).catch(() => {});
  }

  #flushLater = () => {
    this.#flushScheduled = false;
    if (this.#failed) return;
    try {
      this.#flush();
    } catch (err) {
      this.#fail(err);
    }
  };

  /** Sends the batch as one message; notes when the socket wants a drain. */
  #flush(): void {
    if (this.#batch.length === 0) return;
    if (!this.#socket.send(this.#takeBatch())) this.#mustDrain = true;
  }

  #takeBatch(): Uint8Array<ArrayBuffer> {
    const batch = this.#batch;
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    this.messages++;
    this.frames += batch.length;
    return batch.length === 1 ? batch[0] : joinBytes(batch, bytes);
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
    this.#onError(this.#failed);
  }
}
