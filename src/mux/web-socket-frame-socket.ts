import type { FrameSocket } from "./frame-socket.ts";

/** The part of a standard `WebSocket` this socket needs. */
export interface SendingWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array<ArrayBuffer> | string): void;
  close(code?: number, reason?: string): void;
}

/** Bytes sent between looks at `bufferedAmount`. */
const CHECK_EVERY_BYTES = 64 * 1024;

/** Options for {@linkcode WebSocketFrameSocket}. */
export interface WebSocketFrameSocketOptions {
  /** Buffered bytes above which the writer must wait. Default 4 MiB. */
  highWater?: number;
  /** Buffered bytes below which the writer may go on. Default 1 MiB. */
  lowWater?: number;
}

/**
 * A {@linkcode FrameSocket} over a standard `WebSocket` (also the entry's
 * visitor sockets on Deno). Such sockets never
 * drop a message but have no drain event, so {@linkcode drained} polls the
 * live `bufferedAmount`; the gap between the two marks keeps polls rare.
 */
export class WebSocketFrameSocket implements FrameSocket {
  #ws: SendingWebSocket;
  #high: number;
  #low: number;
  #unchecked = 0;

  constructor(ws: SendingWebSocket, options: WebSocketFrameSocketOptions = {}) {
    this.#ws = ws;
    this.#high = options.highWater ?? 4 * 1024 * 1024;
    this.#low = options.lowWater ?? 1024 * 1024;
  }

  send(frame: Uint8Array<ArrayBuffer> | string): boolean {
    if (this.#ws.readyState !== 1) throw new Error("WebSocket closed: cannot send");
    this.#ws.send(frame);
    // Reading bufferedAmount costs a syscall in Bun: look only every 64 KiB sent.
    this.#unchecked += typeof frame === "string" ? frame.length * 3 : frame.byteLength;
    if (this.#unchecked < CHECK_EVERY_BYTES) return true;
    this.#unchecked = 0;
    return this.#ws.bufferedAmount < this.#high;
  }

  async drained(): Promise<void> {
    while (this.#ws.readyState === 1 && this.#ws.bufferedAmount > this.#low) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  close(code?: number, reason?: string): void {
    try {
      this.#ws.close(code, reason);
    } catch {
      // already closing
    }
  }
}
