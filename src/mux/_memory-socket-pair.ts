import type { FrameSocket } from "./frame-socket.ts";

/** One end of an in-memory socket pair, for tests of the mux without a network. */
export class MemorySocket implements FrameSocket {
  peer: MemorySocket | undefined;
  onMessage: (bytes: Uint8Array) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};
  /** Every frame this end sent, in order. */
  readonly sent: Uint8Array[] = [];
  closed = false;
  /** Bytes "in the socket buffer" not yet delivered. */
  buffered = 0;
  #highWater: number;
  #drain: PromiseWithResolvers<void> | undefined;

  constructor(highWater = 256 * 1024) {
    this.#highWater = highWater;
  }

  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.closed) throw new Error("Uplink closed: cannot send");
    this.sent.push(frame);
    this.buffered += frame.byteLength;
    const copy = frame.slice();
    setTimeout(() => {
      this.buffered -= frame.byteLength;
      if (this.buffered === 0) {
        this.#drain?.resolve();
        this.#drain = undefined;
      }
      if (!this.peer?.closed) this.peer?.onMessage(copy);
    }, 0);
    return this.buffered < this.#highWater;
  }

  drained(): Promise<void> {
    if (this.buffered === 0 || this.closed) return Promise.resolve();
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#drain?.resolve();
    const peer = this.peer;
    setTimeout(() => {
      this.onClose(code, reason);
      if (peer && !peer.closed) {
        peer.closed = true;
        peer.onClose(code, reason);
      }
    }, 0);
  }
}

/** Two connected in-memory sockets. */
export function memorySocketPair(highWater?: number): [MemorySocket, MemorySocket] {
  const a = new MemorySocket(highWater);
  const b = new MemorySocket(highWater);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
