import type { UplinkWebSocket } from "../../runtime/client-runtime.ts";
import type { DenoConn, DenoNet } from "./deno.d.ts";
import { acceptKey, encodeClientFrame, indexOfCrlfCrlf, Opcode, readFrameHeader } from "../../protocol/rfc6455.ts";
import { concat, joinBytes } from "../../protocol/bytes.ts";

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
 * RFC 6455 an uplink needs: the handshake, binary and text messages,
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
    let extra = "";
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(name + value)) throw new Error(`Header ${name} holds a line break`);
      extra += `${name}: ${value}\r\n`;
    }
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
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(new TextEncoder().encode(
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    ));
    let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    let headEnd = -1;
    while (headEnd === -1) {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("Connection closed during the WebSocket handshake");
      buffer = concat(buffer, chunk.subarray(0, n));
      headEnd = indexOfCrlfCrlf(buffer);
      if (headEnd === -1 && buffer.byteLength > 16 * 1024) throw new Error("WebSocket handshake answer too large");
    }
    const head = new TextDecoder().decode(buffer.subarray(0, headEnd));
    const status = head.match(/^HTTP\/1\.1 (\d{3})/)?.[1];
    // Worded as Bun's client words it, so the uplink reads the status from either.
    if (status !== "101") throw new Error(`Expected 101 status code: ${status ?? head.split("\r\n")[0].slice(0, 80)}`);
    const accept = head.match(/\r\nsec-websocket-accept:\s*(\S+)/i)?.[1];
    if (accept !== await acceptKey(key)) throw new Error("WebSocket handshake: bad Sec-WebSocket-Accept");
    this.readyState = 1;
    this.onopen?.(new Event("open"));
    await this.#readLoop(conn, buffer.subarray(headEnd + 4), chunk);
  }

  async #readLoop(conn: DenoConn, initial: Uint8Array<ArrayBuffer>, chunk: Uint8Array<ArrayBuffer>): Promise<void> {
    let buffer = initial;
    let fragments: Uint8Array<ArrayBuffer>[] = [];
    let fragmentOpcode = 0;
    for (;;) {
      // Parse every whole frame in the buffer.
      for (;;) {
        if (buffer.byteLength >= 2 && buffer[1] & 0x80) return this.#fail(1002, "Server frames must not be masked");
        const header = readFrameHeader(buffer);
        if (!header) break;
        const { fin, opcode, length, offset } = header;
        if (length > MAX_MESSAGE_BYTES) return this.#fail(1009, "Message too large");
        if (buffer.byteLength < offset + length) break;
        const payload = buffer.slice(offset, offset + length);
        buffer = buffer.subarray(offset + length);
        if (opcode === Opcode.Ping) {
          this.#write(encodeClientFrame(Opcode.Pong, payload));
        } else if (opcode === Opcode.Pong) {
          // keep-alive answer: nothing to do
        } else if (opcode === Opcode.Close) {
          const code = payload.byteLength >= 2 ? (payload[0] << 8) | payload[1] : 1005;
          const reason = new TextDecoder().decode(payload.subarray(2));
          this.#sendClose(code === 1005 ? 1000 : code, "");
          await this.#writing;
          return this.#finish(code, reason);
        } else {
          if (opcode !== Opcode.Continuation) {
            fragmentOpcode = opcode;
            fragments = [];
          }
          fragments.push(payload);
          if (fin) {
            const whole = fragments.length === 1 ? fragments[0] : joinBytes(fragments);
            fragments = [];
            const data = fragmentOpcode === Opcode.Text
              ? new TextDecoder().decode(whole)
              : whole.buffer.byteLength === whole.byteLength ? whole.buffer : whole.slice().buffer;
            this.onmessage?.({ data });
          }
        }
      }
      const n = await conn.read(chunk).catch(() => null);
      if (n === null) return this.#finish(1006, "Connection lost");
      buffer = buffer.byteLength === 0 ? chunk.slice(0, n) : concat(buffer, chunk.subarray(0, n));
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
