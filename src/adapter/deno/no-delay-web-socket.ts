import type { UplinkWebSocket } from "../../runtime/client-runtime.ts";
import type { DenoConn, DenoNet } from "./deno.d.ts";
import { encodeClientFrame, Opcode, ServerFrameReader } from "../../protocol/rfc6455.ts";
import { confirmsKey, handshakeRequest, readHandshakeAnswer } from "../../http/web-socket-handshake.ts";
import { concat } from "../../protocol/bytes.ts";

const Deno = (globalThis as unknown as { Deno: DenoNet }).Deno;

/** Largest message accepted from the entry. */
const MAX_MESSAGE_BYTES = 1024 * 1024;

/**
 * A WebSocket client over a TCP connection with Nagle's algorithm off.
 *
 * Deno's built-in client `WebSocket` leaves TCP_NODELAY unset, so two small
 * messages written back to back (a response head, then its body) wait for
 * the peer's delayed ACK: measured here at 44 ms per write-write-read round
 * trip, against 53 µs for Bun's client. This client speaks just the parts of
 * RFC 6455 an uplink needs, with the handshake and the frame reader that
 * the target WebSocket client uses: binary and text messages,
 * fragmentation, ping/pong and close.
 */
export class NoDelayWebSocket implements UplinkWebSocket {
  readyState = 0;
  binaryType = "arraybuffer";
  bufferedAmount = 0;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  #conn: DenoConn | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closeSent = false;
  #closed = false;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.#connect(new URL(url), headers).catch((err) => this.#finish(1006, (err as Error).message));
  }

  send(data: Uint8Array | string): void {
    if (this.readyState !== 1) throw new Error("WebSocket is not open");
    if (typeof data === "string") this.#write(encodeClientFrame(Opcode.Text, new TextEncoder().encode(data)));
    else this.#write(encodeClientFrame(Opcode.Binary, data));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.#sendClose(code, reason);
    // Wait briefly for the server's close frame, then drop the connection.
    setTimeout(() => this.#finish(code, reason), 1000);
  }

  async #connect(url: URL, headers: Record<string, string>): Promise<void> {
    const { key, bytes } = handshakeRequest(url, Object.entries(headers));
    const secure = url.protocol === "wss:";
    const port = Number(url.port || (secure ? 443 : 80));
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const tcp = await Deno.connect({ hostname, port });
    tcp.setNoDelay(true);
    // For wss: TLS over the no-delay TCP connection (Deno's TLS connections cannot set it).
    // Certificates are checked against Deno's trust store: DENO_CERT or --cert add a CA.
    this.#conn = tcp;
    const conn = secure ? await Deno.startTls(tcp, { hostname }) : tcp;
    this.#conn = conn;
    let written = 0;
    while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
    let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    let head;
    while (!(head = readHandshakeAnswer(buffer))) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("Connection closed during the WebSocket handshake");
      buffer = concat(buffer, chunk.subarray(0, n));
    }
    // Worded as Bun's client words it, so the uplink reads the status from either.
    if (head.status !== 101) throw new Error(`Expected 101 status code: ${head.status}`);
    if (!await confirmsKey(head.headers, key)) throw new Error("WebSocket handshake: bad Sec-WebSocket-Accept");
    this.readyState = 1;
    this.onopen?.(new Event("open"));
    await this.#readLoop(conn, head.rest, chunk);
  }

  async #readLoop(conn: DenoConn, initial: Uint8Array<ArrayBuffer>, chunk: Uint8Array<ArrayBuffer>): Promise<void> {
    const frames = new ServerFrameReader(MAX_MESSAGE_BYTES);
    frames.push(initial);
    for (;;) {
      for (let event = frames.next(); event; event = frames.next()) {
        if (event.kind === "ping") this.#write(encodeClientFrame(Opcode.Pong, event.payload));
        else if (event.kind === "fail") return this.#fail(event.code, event.reason);
        else if (event.kind === "close") {
          this.#sendClose(event.code === 1005 ? 1000 : event.code, "");
          await this.#writing;
          return this.#finish(event.code, event.reason);
        } else {
          const { data } = event;
          this.onmessage?.({
            data: event.text ? new TextDecoder().decode(data) : data.buffer.byteLength === data.byteLength ? data.buffer : data.slice().buffer,
          });
        }
      }
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return this.#finish(1006, "Connection lost");
      frames.push(chunk.slice(0, n)); // copied: the read buffer is reused
    }
  }

  #write(frame: Uint8Array<ArrayBuffer>): void {
    const conn = this.#conn;
    if (!conn || this.#closed) return;
    this.bufferedAmount += frame.byteLength;
    this.#writing = this.#writing.then(async () => {
      let offset = 0;
      while (offset < frame.byteLength) offset += await conn.write(frame.subarray(offset));
      this.bufferedAmount -= frame.byteLength;
    }).catch(() => this.#finish(1006, "Connection lost"));
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    const text = new TextEncoder().encode(reason.slice(0, 120));
    const payload = new Uint8Array(2 + text.byteLength);
    payload[0] = code >>> 8;
    payload[1] = code & 0xff;
    payload.set(text, 2);
    this.#write(encodeClientFrame(Opcode.Close, payload));
  }

  #fail(code: number, reason: string): void {
    this.#sendClose(code, reason);
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.readyState = 3;
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
    this.onclose?.({ code, reason });
  }
}
