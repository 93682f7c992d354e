import { ResetCode } from "../protocol/constants.ts";
import {
  decodeClose,
  encodeClose,
  encodeRecord,
  RecordKind,
  RecordParser,
} from "../protocol/websocket-records.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import type { EntryBindings, VisitorSocket, VisitorSocketEvents } from "../runtime/entry-runtime.ts";
import { scopeCookies } from "./cookie-scope.ts";
import { forwardedFor } from "./visitor-address.ts";
import type { VisitorWebSockets } from "./visitor-web-sockets.ts";
import { errorResponse } from "./error-response.ts";
import { admit, awaitResponseHead, failureResponse, type ProxyDeps, refuseHead, requestHead, visitorResponse } from "./proxy.ts";

const utf8 = new TextDecoder();

/** Whether a request asks for a WebSocket (RFC 6455 §4.1). */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/**
 * Carries a visitor's WebSocket to the session's client: a stream whose head
 * is flagged `websocket`; the client opens a WebSocket to the target and
 * answers 101 (with the chosen subprotocol) or the target's refusal. Only
 * after a 101 is the visitor's upgrade completed.
 */
export async function proxyWebSocket(request: Request, session: string, env: EntryBindings, deps: ProxyDeps): Promise<Response> {
  const key = request.headers.get("sec-websocket-key") ?? "";
  if (request.headers.get("sec-websocket-version") !== "13" || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return errorResponse(400, "Bad request: a WebSocket handshake needs Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
  }
  const head = { ...requestHead(request, forwardedFor(request, env), deps.config.publicScheme, false), websocket: true };
  const refusal = refuseHead(head);
  if (refusal) return refusal;
  const uplink = await admit(request, session, deps);
  if (uplink instanceof Response) return uplink;
  let stream: MuxStream;
  try {
    stream = uplink.mux!.open(head, false);
  } catch (err) {
    return failureResponse(err, session);
  }
  // The target's answer may take up to REQUEST_TIMEOUT_MS; the WebSocket, once open, has its own idle rule.
  const resumeIdle = env.suspendIdleTimeout();
  const answer = await awaitResponseHead(stream, request, session, deps);
  if (answer instanceof Response) {
    resumeIdle();
    return answer;
  }
  if (answer.status !== 101) {
    // The target refused the WebSocket: the visitor gets its answer as is.
    stream.sendEnd();
    try {
      return await visitorResponse(stream, request.method, answer, session, deps.config.domain, resumeIdle);
    } catch (err) {
      resumeIdle();
      throw err;
    }
  }
  resumeIdle();
  const bridge = new WebSocketBridge(session, stream, deps.state.webSockets);
  const response = env.upgradeVisitor({
    protocol: answer.headers.find(([name]) => name.toLowerCase() === "sec-websocket-protocol")?.[1],
    headers: scopeCookies(answer.headers.filter(([name]) => name.toLowerCase() === "set-cookie"), `${session}.${deps.config.domain}`),
    events: bridge,
  });
  if (!response) {
    stream.reset(ResetCode.Cancel, "The visitor's WebSocket upgrade failed");
    return errorResponse(400, "Bad request: not a valid WebSocket handshake");
  }
  return response;
}

/**
 * Joins a visitor's WebSocket and its stream: the visitor's messages become
 * records on the stream, the client's records become messages to the
 * visitor, sent only as fast as the visitor's socket drains (so credit, and
 * the target's reading, wait for a slow visitor and for no one else).
 */
export class WebSocketBridge implements VisitorSocketEvents {
  readonly session: string;
  #stream: MuxStream;
  #socket: VisitorSocket | undefined;
  #sockets: VisitorWebSockets;
  /** Sends to the stream, kept in order. */
  #sending: Promise<void> = Promise.resolve();
  #pendingSends = 0;
  #unsentBytes = 0;
  /** A close went (or was cut short) toward the client: send nothing more. */
  #closeSent = false;
  /** The visitor's socket is closed or closing. */
  #visitorClosed = false;

  constructor(session: string, stream: MuxStream, sockets: VisitorWebSockets) {
    this.session = session;
    this.#stream = stream;
    this.#sockets = sockets;
  }

  onOpen(socket: VisitorSocket): void {
    this.#socket = socket;
    this.#sockets.open.add(this);
    if (this.#stream.resetError) return this.#closeVisitor(1011, "The tunnel lost the target");
    this.#stream.onReset = (err) => this.#closeVisitor(1011, closeReason(err));
    this.#pumpToVisitor(socket).catch(() => {});
  }

  onMessage(data: string | Uint8Array): void {
    if (this.#closeSent) return;
    const size = (typeof data === "string" ? data.length * 3 : data.byteLength) + 5;
    const refused = this.#sockets.refusal(this.#unsentBytes, size);
    if (refused) {
      this.#closeVisitor(refused.code, refused.reason);
      this.#stream.reset(ResetCode.Cancel, refused.code === 1008 ? "Visitor sent faster than the target reads" : "Entry-wide WebSocket buffer full");
      return;
    }
    const record = typeof data === "string" ? encodeRecord(RecordKind.Text, data) : encodeRecord(RecordKind.Binary, data);
    this.#hold(record.byteLength);
    this.#toStream(record);
  }

  onClose(code: number, reason: string): void {
    this.#visitorClosed = true;
    this.#sockets.open.delete(this);
    if (this.#closeSent) return;
    this.#closeSent = true;
    if (code === 1006) {
      // Gone without a close handshake: nothing to pass on but the loss.
      this.#stream.reset(ResetCode.Cancel, "Visitor's WebSocket lost");
      return;
    }
    this.#closeStream(code, reason);
  }

  /** The entry is draining: close with 1001 Going Away. */
  goAway(): void {
    this.#closeVisitor(1001, "Tunnel entry is shutting down");
    if (!this.#closeSent) {
      this.#closeSent = true;
      this.#closeStream(1001, "Tunnel entry is shutting down");
    }
  }

  /** The last record toward the client, a close, then End once everything before it is sent. */
  #closeStream(code: number, reason: string): void {
    const record = encodeClose(code, reason);
    this.#hold(record.byteLength);
    this.#toStream(record);
    this.#sending = this.#sending.then(() => this.#stream.sendEnd());
  }

  /** Counts bytes held for the stream (this socket's and the entry's total); negative to release. */
  #hold(bytes: number): void {
    this.#unsentBytes += bytes;
    this.#sockets.hold(bytes);
  }

  #toStream(record: Uint8Array<ArrayBuffer>): void {
    // Nothing waiting and room to send: at once, without a promise per message.
    if (this.#pendingSends === 0 && this.#stream.trySendBytes(record)) {
      this.#hold(-record.byteLength);
      return;
    }
    this.#pendingSends++;
    this.#sending = this.#sending
      .then(() => this.#stream.sendBytes(record))
      .catch(() => {}) // a reset stream closes the visitor through onReset
      .finally(() => {
        // Sent, or dropped with its stream: either way no longer held.
        this.#hold(-record.byteLength);
        this.#pendingSends--;
      });
  }

  /** Client → visitor: records to messages, waiting for the visitor's socket to drain. */
  async #pumpToVisitor(socket: VisitorSocket): Promise<void> {
    const parser = new RecordParser();
    const reader = this.#stream.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const record of parser.push(value)) {
          if (this.#visitorClosed) continue;
          if (record.kind === RecordKind.Close) {
            const { code, reason } = decodeClose(record.payload);
            this.#closeVisitor(code, reason);
            continue;
          }
          const data = record.kind === RecordKind.Text
            ? utf8.decode(record.payload)
            : record.payload as Uint8Array<ArrayBuffer>;
          if (!socket.send(data)) await socket.drained();
        }
      }
      // The client's side ended: with a close record (handled) or without one.
      this.#closeVisitor(1000, "");
    } catch (err) {
      if (err instanceof StreamResetError) this.#closeVisitor(1011, closeReason(err));
      else {
        // A record that makes no sense, or the visitor's socket failed.
        this.#stream.reset(ResetCode.ProtocolError, (err as Error).message);
        this.#closeVisitor(1011, "The tunnel could not carry this WebSocket");
      }
    } finally {
      reader.releaseLock();
    }
  }

  #closeVisitor(code: number, reason: string): void {
    if (this.#visitorClosed) return;
    this.#visitorClosed = true;
    this.#sockets.open.delete(this);
    closeVisitorSocket(this.#socket, code, reason);
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

/** A short close reason for a stream that ended with an error. */
function closeReason(err: StreamResetError): string {
  return err.message.includes("uplink") ? "Tunnel uplink lost" : `Tunnel stream ended: ${err.message}`.slice(0, 120);
}
