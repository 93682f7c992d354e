import { MAX_TCP_AHEAD_BYTES, TcpSignal } from "../protocol/constants.ts";
import type { SocketPipe } from "../mux/socket-pipe.ts";
import type { VisitorSocket, VisitorSocketEvents } from "../runtime/entry-runtime.ts";
import type { VisitorConnection } from "./tcp-front.ts";

/**
 * A TCP connection carried by a visitor's WebSocket (see `TcpSignal`): the
 * entry's side of `tunnel2 connect`. The WebSocket cannot stop reading, so
 * "paused" says pause to the sender and holds what still comes, up to
 * MAX_TCP_AHEAD_BYTES, then resets.
 */
export class WebSocketConnection implements VisitorConnection, VisitorSocketEvents {
  readonly remoteAddress: string;
  readonly remotePort = 0;
  readonly arrived: string;
  #socket: VisitorSocket | undefined;
  #pipe: SocketPipe | undefined;
  #held: Uint8Array[] = [];
  #heldBytes = 0;
  #ended = false;
  #paused = false;
  /** The agent said pause: its local connection is not taking bytes. */
  #remotePaused = false;
  #closed = false;
  #opened = Promise.withResolvers<void>();

  constructor(remoteAddress: string, arrived: string) {
    this.remoteAddress = remoteAddress;
    this.arrived = arrived;
  }

  /** Resolves once the WebSocket is open (it may be closed by then). */
  get opened(): Promise<void> {
    return this.#opened.promise;
  }

  onOpen(socket: VisitorSocket): void {
    this.#socket = socket;
    this.#opened.resolve();
  }

  onMessage(data: string | Uint8Array): void {
    if (typeof data === "string") {
      if (data === TcpSignal.End) return this.#deliverEnd();
      if (data === TcpSignal.Pause) return void (this.#remotePaused = true);
      if (data === TcpSignal.Resume) {
        this.#remotePaused = false;
        return this.#pipe?.drained();
      }
      return this.reset();
    }
    const bytes = data.slice(); // valid during the call only
    if (this.#paused || !this.#pipe || this.#held.length > 0) {
      this.#held.push(bytes);
      this.#heldBytes += bytes.byteLength;
      if (this.#heldBytes > MAX_TCP_AHEAD_BYTES) this.reset();
      return;
    }
    this.#pipe.data(bytes);
  }

  onClose(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#opened.resolve();
    this.#pipe?.closed(code === 1000 ? undefined : new Error(`WebSocket closed with ${code}`));
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed || !this.#socket) return true;
    let sent: boolean;
    try {
      sent = this.#socket.send(bytes.slice());
    } catch {
      return true;
    }
    if (this.#remotePaused) return false; // its resume calls drained
    if (sent) return true;
    this.#socket.drained().then(() => {
      if (!this.#remotePaused) this.#pipe?.drained();
    });
    return false;
  }

  end(): void {
    if (this.#closed) return;
    this.#send(TcpSignal.End);
  }

  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    if (this.#pipe) this.#send(TcpSignal.Pause);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#pipe) return;
    this.#send(TcpSignal.Resume);
    while (this.#held.length > 0 && !this.#paused) {
      const bytes = this.#held.shift()!;
      this.#heldBytes -= bytes.byteLength;
      this.#pipe.data(bytes);
    }
    if (this.#held.length === 0 && this.#ended) this.#pipe.ended();
  }

  reset(): void {
    if (this.#closed) return;
    this.#socket?.close(1011, "Connection reset");
    this.onClose(1011);
  }

  attach(pipe: SocketPipe): void {
    this.#pipe = pipe;
    if (this.#closed) pipe.closed(new Error("WebSocket closed"));
  }

  #deliverEnd(): void {
    this.#ended = true;
    if (this.#held.length === 0 && !this.#paused) this.#pipe?.ended();
  }

  #send(signal: string): void {
    try {
      this.#socket?.send(signal);
    } catch {
      // closed: onClose follows
    }
  }
}
