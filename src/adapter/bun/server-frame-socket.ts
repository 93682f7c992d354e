import type { FrameSocket } from "../../mux/frame-socket.ts";
import type { BunServerWebSocket } from "./bun.d.ts";

/** Buffered bytes past which the writer waits for Bun's drain callback. */
const HIGH_WATER = 1024 * 1024;

/**
 * A {@linkcode FrameSocket} over Bun's server WebSocket. Bun's `send()` returns
 * -1 when it queued the message under backpressure and 0 when it dropped it
 * (past `backpressureLimit`); the writer waits for `drain` at -1 or at the
 * high-water mark, so the limit (set far above it) is never reached.
 */
export class BunServerFrameSocket implements FrameSocket {
  #ws: BunServerWebSocket<unknown>;
  #drain: PromiseWithResolvers<void> | undefined;
  #closed = false;

  constructor(ws: BunServerWebSocket<unknown>) {
    this.#ws = ws;
  }

  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.#closed) throw new Error("Uplink closed: cannot send");
    const status = this.#ws.send(frame);
    if (status === 0) throw new Error("Uplink dropped a frame: backpressure limit reached");
    return status > 0 && this.#ws.getBufferedAmount() < HIGH_WATER;
  }

  drained(): Promise<void> {
    if (this.#closed || this.#ws.getBufferedAmount() === 0) return Promise.resolve();
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  /** Bun's drain callback (and close): wake a waiting writer. */
  wake(closed = false): void {
    if (closed) this.#closed = true;
    const drain = this.#drain;
    this.#drain = undefined;
    drain?.resolve();
  }
}
