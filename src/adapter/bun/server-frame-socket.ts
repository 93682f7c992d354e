import type { FrameSocket } from "../../mux/frame-socket.ts";
import type { VisitorSocket } from "../../runtime/entry-runtime.ts";
import type { BunServerWebSocket } from "./bun.d.ts";

/** Buffered bytes past which the writer waits for a drain. */
const HIGH_WATER = 1024 * 1024;

/**
 * A {@linkcode FrameSocket} (uplinks) or {@linkcode VisitorSocket} (visitors'
 * WebSockets) over Bun's server WebSocket.
 *
 * Bun's `send()` returns -1 when it queued the message under backpressure and
 * 0 when it dropped it (past `backpressureLimit`). The writer is told to wait
 * for `drain` at -1 or once the buffer passes the high-water mark, so the
 * limit (set far above it) is never reached; a 0 fails the uplink rather than
 * losing a frame silently.
 */
export class BunServerFrameSocket implements FrameSocket, VisitorSocket {
  #ws: BunServerWebSocket<unknown>;
  #backpressured = false;
  #drain: PromiseWithResolvers<void> | undefined;
  #closed = false;

  constructor(ws: BunServerWebSocket<unknown>) {
    this.#ws = ws;
  }

  send(message: Uint8Array<ArrayBuffer> | string): boolean {
    if (this.#closed) throw new Error("WebSocket closed: cannot send");
    const status = this.#ws.send(message);
    // 0 means dropped, except for an empty message, of which 0 bytes were sent.
    const empty = typeof message === "string" ? message.length === 0 : message.byteLength === 0;
    if (status === 0 && !empty) {
      this.#ws.close(1011, "Message dropped under backpressure");
      throw new Error("WebSocket dropped a message: backpressure limit reached");
    }
    if (status === -1) this.#backpressured = true;
    return !this.#backpressured && this.#ws.getBufferedAmount() < HIGH_WATER;
  }

  drained(): Promise<void> {
    if (this.#closed || (!this.#backpressured && this.#ws.getBufferedAmount() < HIGH_WATER)) {
      return Promise.resolve();
    }
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  close(code?: number, reason?: string): void {
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
}
