import { joinBytes } from "../protocol/bytes.ts";
import { BATCH_FLUSH_BYTES, FrameKind } from "../protocol/constants.ts";
import type { FrameSocket } from "./frame-socket.ts";

/** Options for {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /** Queued bytes above which `sendData` waits (`writer.ready`). Default 512 KiB. */
  highWaterMark?: number;
  /** Observes how long frames wait in the queue before the sink takes them (ms), one frame in {@linkcode WAIT_SAMPLE_EVERY}. */
  onWait?: (ms: number) => void;
}

/**
 * What queued control frames may cost before the peer counts as not reading:
 * their bytes plus {@linkcode CONTROL_FRAME_COST} each (a queued frame's
 * objects weigh far more than its few bytes). 10 000 request heads of 1 KiB
 * fit; a million ping answers do not.
 */
export const MAX_CONTROL_QUEUE_COST = 16 * 1024 * 1024;
export const CONTROL_FRAME_COST = 256;

/** The peer stopped reading: control frames piled up past {@linkcode MAX_CONTROL_QUEUE_COST}. */
export class PeerNotReadingError extends Error {
  override name = "PeerNotReadingError";
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
  /** What the control frames in the queue cost (bytes plus a fixed cost each). */
  #controlCost = 0;
  /** When the sink began waiting for the socket to drain (0: not waiting). */
  #drainingSince = 0;
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
          if (frame[1] !== FrameKind.Data) this.#controlCost -= frame.byteLength + CONTROL_FRAME_COST;
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
            this.#drainingSince = Date.now();
            return socket.drained().then(() => {
              this.#drainingSince = 0;
            });
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

  /** Whether every frame given to the writer has gone to the socket. */
  get idle(): boolean {
    return this.#pending === 0 && this.#batch.length === 0;
  }

  /** How long the writer has been waiting for the socket to drain, in ms (0 when it is not). */
  get stalledMs(): number {
    return this.#drainingSince === 0 ? 0 : Date.now() - this.#drainingSince;
  }

  /**
   * Queues a control frame (heads, credit, end, reset, ping) without waiting.
   * Past {@linkcode MAX_CONTROL_QUEUE_COST} of them the writer fails with
   * {@linkcode PeerNotReadingError}: a peer that does not read may not grow
   * our memory, whatever it makes us answer.
   */
  send(frame: Uint8Array<ArrayBuffer>): void {
    if (this.#failed) return;
    // DATA frames sent here (a whole small body, bytes that fit at once) took window credit, so flow control bounds
    // them; only other frames are counted, as the sink counts only those back out.
    const counted = frame[1] !== FrameKind.Data;
    if (counted) this.#controlCost += frame.byteLength + CONTROL_FRAME_COST;
    if (counted && this.#controlCost > MAX_CONTROL_QUEUE_COST) {
      this.#fail(new PeerNotReadingError(`Peer is not reading: ${this.#controlCost} bytes of control frames queued`));
      this.#writer.abort(this.#failed).catch(() => {});
      return;
    }
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
