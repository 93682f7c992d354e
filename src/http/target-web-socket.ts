import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import type { HeaderList } from "../protocol/head.ts";
import { concat } from "../protocol/bytes.ts";
import { encodeClientFrame, Opcode, ServerFrameReader } from "../protocol/rfc6455.ts";
import { confirmsKey, handshakeRequest, readHandshakeAnswer } from "./web-socket-handshake.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../protocol/websocket-records.ts";

/** Largest refusal body passed on to the visitor. */
const MAX_REFUSAL_BODY_BYTES = 64 * 1024;
/** After sending a close frame, how long the target gets to answer before the connection is dropped. */
const CLOSE_WAIT_MS = 1000;

/** What a target socket reports. */
export interface TargetSocketEvents {
  /** A whole message. Reading pauses until a returned promise settles (backpressure). */
  onMessage(text: boolean, data: Uint8Array): Promise<void> | void;
  /** The connection ended: the target's close code and reason, or 1006 when it just went away. */
  onClose(code: number, reason: string): void;
}

/** The target's answer to the handshake. */
export type TargetHandshake =
  | { accepted: true; socket: TargetWebSocket; headers: HeaderList }
  | { accepted: false; status: number; headers: HeaderList; body: Uint8Array };

/**
 * Opens a WebSocket to the target (`ws:` or `wss:` URL) with the visitor's
 * end-to-end headers (subprotocols, cookies, Origin, X-Forwarded-*). Resolves
 * with the open socket, or with the target's refusal (its status, headers and
 * up to 64 KiB of body); rejects when the target cannot be reached.
 *
 * Our own client (over node:net, so the same code on Bun and Deno) rather than
 * the runtime's `WebSocket`: that one hides a refusal's status, cannot pause
 * reading when the visitor is slow, and on Deno takes no custom headers.
 */
export async function openTargetWebSocket(url: URL, headers: HeaderList, signal: AbortSignal): Promise<TargetHandshake> {
  const secure = url.protocol === "wss:";
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const socket: Socket = secure ? connectTls({ host, port, servername: host }) : connectTcp({ host, port });
  socket.setNoDelay(true);
  const onAbort = () => socket.destroy(new Error("Cancelled"));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? "secureConnect" : "connect", () => resolve());
      socket.once("error", reject);
    });
    const { key, bytes } = handshakeRequest(url, headers);
    socket.write(bytes);
    let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    let ended = false;
    const more = () =>
      new Promise<void>((resolve, reject) => {
        const onData = (chunk: Uint8Array) => {
          buffer = concat(buffer, chunk);
          done();
          resolve();
        };
        const onEnd = () => {
          ended = true;
          done();
          resolve();
        };
        const onError = (err: Error) => {
          done();
          reject(err);
        };
        const done = () => {
          // Paused between reads: a flowing socket with no listener would drop what arrives meanwhile.
          socket.pause();
          socket.off("data", onData);
          socket.off("end", onEnd);
          socket.off("error", onError);
        };
        socket.on("data", onData);
        socket.once("end", onEnd);
        socket.once("error", onError);
        socket.resume();
      });
    let head;
    while (!(head = readHandshakeAnswer(buffer))) {
      if (ended) throw new Error("Connection closed during the WebSocket handshake");
      await more();
    }
    const { rest } = head;
    if (head.status !== 101) {
      // A refusal: pass on its status, headers and a body of known, modest length.
      const length = Number(head.headers.find(([n]) => n === "content-length")?.[1] ?? 0);
      const wanted = Number.isInteger(length) && length > 0 && length <= MAX_REFUSAL_BODY_BYTES ? length : 0;
      buffer = rest;
      while (buffer.byteLength < wanted && !ended) await more();
      socket.destroy();
      const body = buffer.subarray(0, wanted);
      return {
        accepted: false,
        status: head.status,
        headers: head.headers.filter(([n]) => n !== "transfer-encoding" && n !== "content-length" && n !== "connection"),
        body,
      };
    }
    if (!await confirmsKey(head.headers, key)) throw new Error("WebSocket handshake: bad Sec-WebSocket-Accept from the target");
    signal.removeEventListener("abort", onAbort);
    const answerHeaders = head.headers.filter(([n]) => n === "sec-websocket-protocol" || n === "set-cookie");
    return { accepted: true, socket: new TargetWebSocket(socket, rest), headers: answerHeaders };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** An open WebSocket to the target. Call `start` to receive. */
export class TargetWebSocket {
  #socket: Socket;
  #frames = new ServerFrameReader(MAX_WEBSOCKET_MESSAGE_BYTES);
  #events: TargetSocketEvents | undefined;
  #closeSent = false;
  #closed = false;
  #reading = false;

  constructor(socket: Socket, initial: Uint8Array<ArrayBuffer>) {
    this.#socket = socket;
    this.#frames.push(initial);
  }

  /** Starts delivering messages and the close. */
  start(events: TargetSocketEvents): void {
    this.#events = events;
    this.#socket.on("data", (chunk: Uint8Array) => {
      // Copied: chunks stay queued until their message is whole, and a runtime may reuse a chunk's buffer.
      this.#frames.push(new Uint8Array(chunk)); // (Buffer#slice would be a view)
      this.#drainBuffer();
    });
    this.#socket.on("close", () => this.#finish(1006, "Target connection lost"));
    this.#socket.on("error", () => this.#finish(1006, "Target connection lost"));
    this.#socket.resume();
    this.#drainBuffer();
  }

  /** Sends one message; resolves when the socket can take more. */
  send(text: boolean, data: Uint8Array): Promise<void> {
    if (this.#closeSent || this.#closed) return Promise.resolve();
    return this.#write(encodeClientFrame(text ? Opcode.Text : Opcode.Binary, data));
  }

  /** Sends a close frame; the connection is dropped if the target does not answer soon. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      const text = new TextEncoder().encode(reason.slice(0, 120));
      const payload = new Uint8Array((code === 1005 ? 0 : 2) + text.byteLength);
      if (code !== 1005) {
        payload[0] = code >>> 8;
        payload[1] = code & 0xff;
        payload.set(text, 2);
      }
      this.#write(encodeClientFrame(Opcode.Close, payload)).catch(() => {});
    }
    setTimeout(() => this.#socket.destroy(), CLOSE_WAIT_MS).unref?.();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#socket.destroy();
  }

  #write(frame: Uint8Array): Promise<void> {
    if (this.#socket.write(frame)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#socket.off("drain", done);
        this.#socket.off("close", done);
        resolve();
      };
      this.#socket.once("drain", done);
      this.#socket.once("close", done);
    });
  }

  /** Takes whole frames' events; pauses the socket while a message handler is busy. */
  #drainBuffer(): void {
    if (this.#reading || this.#closed) return;
    while (!this.#closed) {
      const event = this.#frames.next();
      if (!event) return;
      if (event.kind === "ping") {
        this.#write(encodeClientFrame(Opcode.Pong, event.payload)).catch(() => {});
      } else if (event.kind === "fail") {
        return this.#fail(event.code, event.reason);
      } else if (event.kind === "close") {
        if (!this.#closeSent) this.close(event.code === 1005 ? 1000 : event.code, "");
        this.#finish(event.code, event.reason);
        setTimeout(() => this.#socket.destroy(), 100).unref?.();
        return;
      } else {
        const pending = this.#events?.onMessage(event.text, event.data);
        if (pending) {
          this.#reading = true;
          this.#socket.pause();
          pending.finally(() => {
            this.#reading = false;
            if (!this.#closed) this.#socket.resume();
            this.#drainBuffer();
          });
          return;
        }
      }
    }
  }

  #fail(code: number, reason: string): void {
    this.close(code, reason);
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#events?.onClose(code, reason);
  }
}
