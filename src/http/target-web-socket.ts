import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { ByteQueue } from "../protocol/byte-queue.ts";
import type { HeaderList } from "../protocol/head.ts";
import { concat, joinBytes, latin1 } from "../protocol/bytes.ts";
import { acceptKey, encodeClientFrame, indexOfCrlfCrlf, MAX_FRAME_HEADER_BYTES, Opcode, readFrameHeader } from "../protocol/rfc6455.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../protocol/websocket-records.ts";

/** Largest refusal body passed on to the visitor. */
const MAX_REFUSAL_BODY_BYTES = 64 * 1024;
/** Largest handshake answer head. */
const MAX_HEAD_BYTES = 16 * 1024;
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

/** Headers of the visitor's handshake that belong to one hop only and are made anew here. */
const OWN_HEADERS = new Set([
  "host",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "content-length",
]);

function parseHead(text: string): { status: number; headers: HeaderList } {
  const [statusLine, ...lines] = text.split("\r\n");
  const status = Number(statusLine.match(/^HTTP\/1\.[01] (\d{3})/)?.[1] ?? NaN);
  if (!Number.isInteger(status)) throw new Error(`Not an HTTP answer: ${statusLine.slice(0, 80)}`);
  const headers: HeaderList = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { status, headers };
}

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
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const lines = [
      `GET ${url.pathname}${url.search} HTTP/1.1`,
      `Host: ${url.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...headers.filter(([name]) => !OWN_HEADERS.has(name.toLowerCase())).map(([name, value]) => `${name}: ${value}`),
    ];
    // Latin-1: each character of a header value is one byte, as the visitor sent it.
    socket.write(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
    let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    let headEnd = -1;
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
    while ((headEnd = indexOfCrlfCrlf(buffer)) === -1) {
      if (ended) throw new Error("Connection closed during the WebSocket handshake");
      if (buffer.byteLength > MAX_HEAD_BYTES) throw new Error("WebSocket handshake answer too large");
      await more();
    }
    const head = parseHead(latin1(buffer.subarray(0, headEnd)));
    const rest = buffer.subarray(headEnd + 4);
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
    const accept = head.headers.find(([n]) => n === "sec-websocket-accept")?.[1];
    if (accept !== await acceptKey(key)) throw new Error("WebSocket handshake: bad Sec-WebSocket-Accept from the target");
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
  #received = new ByteQueue();
  #events: TargetSocketEvents | undefined;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentText = false;
  #closeSent = false;
  #closed = false;
  #reading = false;

  constructor(socket: Socket, initial: Uint8Array<ArrayBuffer>) {
    this.#socket = socket;
    this.#received.push(initial);
  }

  /** Starts delivering messages and the close. */
  start(events: TargetSocketEvents): void {
    this.#events = events;
    this.#socket.on("data", (chunk: Uint8Array) => {
      // Copied: chunks stay queued until their message is whole, and a runtime may reuse a chunk's buffer.
      this.#received.push(new Uint8Array(chunk)); // (Buffer#slice would be a view)
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

  /** Parses whole frames; pauses the socket while a message handler is busy. */
  #drainBuffer(): void {
    if (this.#reading || this.#closed) return;
    while (!this.#closed) {
      const header = readFrameHeader(this.#received.peek(Math.min(MAX_FRAME_HEADER_BYTES, this.#received.length)));
      if (!header) return;
      if (header.masked) return this.#fail(1002, "Server frames must not be masked");
      if (header.length > MAX_WEBSOCKET_MESSAGE_BYTES) return this.#fail(1009, "Message too large");
      if (this.#received.length < header.offset + header.length) return;
      const payload = this.#received.take(header.offset + header.length).subarray(header.offset);
      if (header.opcode === Opcode.Ping) {
        this.#write(encodeClientFrame(Opcode.Pong, payload)).catch(() => {});
        continue;
      }
      if (header.opcode === Opcode.Pong) continue;
      if (header.opcode === Opcode.Close) {
        const code = payload.byteLength >= 2 ? (payload[0] << 8) | payload[1] : 1005;
        const reason = new TextDecoder().decode(payload.subarray(2));
        if (!this.#closeSent) this.close(code === 1005 ? 1000 : code, "");
        this.#finish(code, reason);
        setTimeout(() => this.#socket.destroy(), 100).unref?.();
        return;
      }
      if (header.opcode !== Opcode.Continuation) {
        this.#fragmentText = header.opcode === Opcode.Text;
        this.#fragments = [];
        this.#fragmentBytes = 0;
      }
      this.#fragments.push(payload);
      this.#fragmentBytes += payload.byteLength;
      if (this.#fragmentBytes > MAX_WEBSOCKET_MESSAGE_BYTES) return this.#fail(1009, "Message too large");
      if (!header.fin) continue;
      const whole = this.#fragments.length === 1 ? this.#fragments[0] : joinBytes(this.#fragments, this.#fragmentBytes);
      this.#fragments = [];
      this.#fragmentBytes = 0;
      const pending = this.#events?.onMessage(this.#fragmentText, whole);
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
