import type { FrameSink } from "../../src/mux/frame-sink.ts";
import type { FrameSocket } from "../../src/mux/frame-socket.ts";

/**
 * The old system's writer, for comparison only: one lock around each frame,
 * released once the socket has flushed it — `SendAsync` under `_writeLock`
 * plus a flush. The flush completes when the socket's buffer is low again,
 * observed on the next timer tick (about 1 ms on Bun, 2 ms on Deno; the old
 * system measured 3-4 ms per frame write). Data producers wait for their
 * frame to be written, as `await SendAsync` did.
 */
export class LockedFlushWriter implements FrameSink {
  #socket: FrameSocket;
  #onError: (err: Error) => void;
  #lock: Promise<void> = Promise.resolve();
  #queued = 0;
  #failed: Error | undefined;
  #drainingSince = 0;
  frames = 0;
  messages = 0;

  constructor(socket: FrameSocket, onError: (err: Error) => void) {
    this.#socket = socket;
    this.#onError = onError;
  }

  get queuedBytes(): number {
    return this.#queued;
  }

  get idle(): boolean {
    return this.#queued === 0;
  }

  get stalledMs(): number {
    return this.#drainingSince === 0 ? 0 : Date.now() - this.#drainingSince;
  }

  send(frame: Uint8Array<ArrayBuffer>): void {
    this.#locked(frame).catch((err) => this.#fail(err));
  }

  sendData(frame: Uint8Array<ArrayBuffer>): Promise<void> {
    return this.#locked(frame);
  }

  abort(reason: Error): void {
    this.#failed ??= reason;
  }

  #locked(frame: Uint8Array<ArrayBuffer>): Promise<void> {
    this.#queued += frame.byteLength;
    const turn = this.#lock.then(async () => {
      try {
        if (this.#failed) throw this.#failed;
        const ok = this.#socket.send(frame);
        this.frames++;
        this.messages++;
        if (!ok) {
          this.#drainingSince = Date.now();
          await this.#socket.drained();
          this.#drainingSince = 0;
        }
        await new Promise((resolve) => setTimeout(resolve, 0));
      } finally {
        this.#queued -= frame.byteLength;
      }
    });
    this.#lock = turn.catch(() => {});
    return turn;
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
    this.#onError(this.#failed);
  }
}
