import type { FrameSocket } from "../../mux/frame-socket.ts";
import type { BunServerWebSocket } from "./bun.d.ts";

/** Buffered plus batched bytes past which the writer waits for a drain. */
const HIGH_WATER = 1024 * 1024;

/**
 * A {@linkcode FrameSocket} over Bun's server WebSocket.
 *
 * Frames sent in one turn of the event loop are batched and flushed inside
 * `ws.cork()`, so many small frames cost one write instead of one each: outside
 * a callback Bun does not cork, and per-message writes were a third of the
 * entry's time under load.
 *
 * Bun's `send()` returns -1 when it queued the message under backpressure and
 * 0 when it dropped it (past `backpressureLimit`). The writer is told to wait
 * for `drain` at -1 or once batch plus buffer pass the high-water mark, so
 * the limit (set far above it) is never reached; a 0 fails the uplink rather
 * than losing a frame silently.
 */
export class BunServerFrameSocket implements FrameSocket {
  #ws: BunServerWebSocket<unknown>;
  #batch: Uint8Array<ArrayBuffer>[] = [];
  #batchBytes = 0;
  #backpressured = false;
  #drain: PromiseWithResolvers<void> | undefined;
  #closed = false;
  #failed: Error | undefined;
  #onFail: (err: Error) => void;

  constructor(ws: BunServerWebSocket<unknown>, onFail: (err: Error) => void) {
    this.#ws = ws;
    this.#onFail = onFail;
  }

  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.#failed) throw this.#failed;
    if (this.#closed) throw new Error("Uplink closed: cannot send");
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
    this.#batch.push(frame);
    this.#batchBytes += frame.byteLength;
    return !this.#backpressured && this.#batchBytes + this.#ws.getBufferedAmount() < HIGH_WATER;
  }

  drained(): Promise<void> {
    this.#flush();
    if (this.#closed || (!this.#backpressured && this.#ws.getBufferedAmount() < HIGH_WATER)) {
      return Promise.resolve();
    }
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  close(code: number, reason: string): void {
    this.#flush();
    this.#ws.close(code, reason);
  }

  /** Bun's drain callback (and close): wake a waiting writer. */
  wake(closed = false): void {
    if (closed) this.#closed = true;
    this.#backpressured = false;
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }

  #flush(): void {
    if (this.#batch.length === 0 || this.#closed) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#batchBytes = 0;
    const ws = this.#ws;
    ws.cork(() => {
      for (const frame of batch) {
        const status = ws.send(frame);
        if (status === -1) this.#backpressured = true;
        else if (status === 0) {
          this.#failed = new Error("Uplink dropped a frame: backpressure limit reached");
          break;
        }
      }
    });
    if (this.#failed) {
      this.#onFail(this.#failed);
      ws.close(1011, "Frame dropped under backpressure");
    }
  }
}
