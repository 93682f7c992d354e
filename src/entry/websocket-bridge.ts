import type { VisitorSocket, VisitorSocketEvents } from "../runtime/entry-runtime.ts";
import type { TrackedWebSocket, VisitorWebSockets } from "./visitor-web-sockets.ts";

const utf8Decoder = new TextDecoder();
const utf8Encoder = new TextEncoder();

/** What the far side tells the bridge. */
export interface FarWebSocketEvents {
  /** One message; a promise holds the next until it settles (the visitor's socket is draining). */
  onMessage(text: boolean, data: Uint8Array): void | Promise<void>;
  /** The far side closed (or was lost: 1006, or 1011 for a tunnel that failed). */
  onClose(code: number, reason: string): void;
}

/**
 * Where a visitor's WebSocket is carried to: the session's stream (records
 * toward the client and its target) or the WebSocket to the entry that holds
 * the session (`TargetWebSocket` is one as it is).
 */
export interface FarWebSocket {
  /** Starts delivering messages and the close. */
  start(events: FarWebSocketEvents): void;
  /** Sends one message in order; a promise settles once it has left (sent or dropped with its socket). */
  send(text: boolean, data: Uint8Array): void | Promise<void>;
  /** Closes after what was sent before, with the visitor's code (1005: none). */
  close(code: number, reason: string): void;
  /** Drops it at once, unsent messages with it: the visitor was lost or refused. */
  destroy(reason: string): void;
}

/**
 * Joins a visitor's WebSocket and its far side, each way: messages from the
 * far side go to the visitor only as fast as the visitor's socket drains (so
 * the target's reading waits for a slow visitor and for no one else); what
 * the visitor sends ahead of the far side counts toward the entry's budget
 * until it has left, and past the budget the visitor is refused.
 */
export class WebSocketBridge implements VisitorSocketEvents, TrackedWebSocket {
  readonly session: string;
  #far: FarWebSocket;
  #sockets: VisitorWebSockets;
  #visitor: VisitorSocket | undefined;
  /** Visitor bytes given to the far side and not yet gone from it. */
  #aheadBytes = 0;
  /** A close (or a loss) went toward the far side: send nothing more. */
  #closeSent = false;
  /** The visitor's socket is closed or closing. */
  #visitorClosed = false;

  constructor(session: string, far: FarWebSocket, sockets: VisitorWebSockets) {
    this.session = session;
    this.#far = far;
    this.#sockets = sockets;
  }

  onOpen(socket: VisitorSocket): void {
    this.#visitor = socket;
    this.#sockets.open.add(this);
    this.#far.start({
      onMessage: (text, data) => this.#toVisitor(socket, text, data),
      onClose: (code, reason) => this.#closeVisitor(code, reason),
    });
  }

  onMessage(data: string | Uint8Array): void {
    if (this.#closeSent || this.#visitorClosed) return;
    const text = typeof data === "string";
    const bytes = text ? utf8Encoder.encode(data) : data;
    const refused = this.#sockets.refusal(this.#aheadBytes, bytes.byteLength);
    if (refused) {
      this.#closeVisitor(refused.code, refused.reason);
      this.#closeSent = true;
      this.#far.destroy(refused.code === 1008 ? "Visitor sent faster than the target reads" : "Entry-wide WebSocket buffer full");
      return;
    }
    const size = bytes.byteLength;
    this.#hold(size);
    const leaving = this.#far.send(text, bytes);
    if (leaving) leaving.catch(() => {}).finally(() => this.#hold(-size));
    else this.#hold(-size);
  }

  onClose(code: number, reason: string): void {
    this.#visitorClosed = true;
    this.#sockets.open.delete(this);
    if (this.#closeSent) return;
    this.#closeSent = true;
    // Gone without a close handshake: nothing to pass on but the loss.
    if (code === 1006) this.#far.destroy("Visitor's WebSocket lost");
    else this.#far.close(code, reason);
  }

  /** The entry is draining: close both sides with 1001 Going Away. */
  goAway(): void {
    this.#closeVisitor(1001, "Tunnel entry is shutting down");
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#far.close(1001, "Tunnel entry is shutting down");
  }

  #toVisitor(socket: VisitorSocket, text: boolean, data: Uint8Array): void | Promise<void> {
    if (this.#visitorClosed) return;
    try {
      if (!socket.send(text ? utf8Decoder.decode(data) : data as Uint8Array<ArrayBuffer>)) return socket.drained();
    } catch {
      // The visitor's socket failed under us: nothing more goes either way.
      this.#visitorClosed = true;
      this.#sockets.open.delete(this);
      if (!this.#closeSent) {
        this.#closeSent = true;
        this.#far.destroy("Visitor's WebSocket failed");
      }
    }
  }

  /** Counts bytes on their way to the far side (this socket's and the entry's total); negative to release. */
  #hold(bytes: number): void {
    this.#aheadBytes += bytes;
    this.#sockets.hold(bytes);
  }

  #closeVisitor(code: number, reason: string): void {
    if (this.#visitorClosed) return;
    this.#visitorClosed = true;
    this.#sockets.open.delete(this);
    closeVisitorSocket(this.#visitor, code, reason);
  }
}

/**
 * Closes a visitor's socket with a close code received from elsewhere:
 * 1005 (no status) and 1006 (abnormal) cannot be sent, so they become a
 * close without a code, or an error (1011).
 */
export function closeVisitorSocket(socket: VisitorSocket | undefined, code: number, reason: string): void {
  try {
    if (code === 1005) socket?.close();
    else socket?.close(code === 1006 ? 1011 : code, reason);
  } catch {
    // already closed
  }
}
