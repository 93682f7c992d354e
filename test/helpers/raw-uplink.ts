/**
 * A hand-made uplink WebSocket (node:net + RFC 6455 frames) for hostile
 * tests: it can send anything, and it can stop reading, which no runtime's
 * WebSocket client allows.
 */
import { connect, type Socket } from "node:net";
import { CONNECT_PATH } from "../../src/protocol/constants.ts";
import { encodeClientFrame, indexOfCrlfCrlf, Opcode, readFrameHeader } from "../../src/protocol/rfc6455.ts";

export interface RawUplink {
  socket: Socket;
  /** Sends one binary message. */
  send(bytes: Uint8Array): boolean;
  /** Stops reading (the entry's writes pile up on its side). */
  pause(): void;
  /** The close code the entry sent, once a close frame arrived (while reading). */
  closeCode(): number | undefined;
  /** Whether the connection is gone. */
  closed(): boolean;
}

/**
 * Opens an uplink WebSocket to the entry and resolves once it is upgraded;
 * `headers` go on the upgrade request (the session and its token). A refusal
 * rejects with the answer's status line.
 */
export function openRawUplink(port: number, headers: Record<string, string> = {}): Promise<RawUplink> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let buffer = Buffer.alloc(0);
    let upgraded = false;
    let closeCode: number | undefined;
    let closed = false;
    socket.on("error", () => {});
    socket.on("close", () => (closed = true));
    socket.on("connect", () => {
      socket.write(
        `GET ${CONNECT_PATH} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
          Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("") + "\r\n",
      );
    });
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = indexOfCrlfCrlf(buffer);
        if (end === -1) return;
        if (!buffer.subarray(0, end).toString("latin1").startsWith("HTTP/1.1 101")) {
          reject(new Error(`Not upgraded: ${buffer.subarray(0, end).toString("latin1")}`));
          socket.destroy();
          return;
        }
        upgraded = true;
        buffer = buffer.subarray(end + 4);
        resolve(uplink);
      }
      for (;;) {
        const header = readFrameHeader(buffer);
        if (!header || buffer.length < header.offset + header.length) break;
        if (header.opcode === Opcode.Close && header.length >= 2) {
          closeCode = buffer.readUInt16BE(header.offset);
        }
        buffer = buffer.subarray(header.offset + header.length);
      }
    });
    const uplink: RawUplink = {
      socket,
      send: (bytes) => socket.write(encodeClientFrame(Opcode.Binary, bytes)),
      pause: () => socket.pause(),
      closeCode: () => closeCode,
      closed: () => closed,
    };
  });
}
