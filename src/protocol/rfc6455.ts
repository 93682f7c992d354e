/**
 * The parts of RFC 6455 (WebSocket) that tunnel2's own WebSocket clients share:
 * opcodes, client frame encoding with masking, the accept key, reading a
 * server's frames, and byte helpers.
 */
import { ByteQueue } from "./byte-queue.ts";
import { joinBytes } from "./bytes.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** XORs `data` in place with a 4-byte mask, a word at a time where aligned. */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  let i = 0;
  const head = Math.min(data.byteLength, (4 - (data.byteOffset % 4)) % 4);
  for (; i < head; i++) data[i] ^= mask[i & 3];
  const words = (data.byteLength - i) >>> 2;
  if (words > 0) {
    const rotated = new Uint8Array(4);
    for (let k = 0; k < 4; k++) rotated[k] = mask[(i + k) & 3];
    const key = new Uint32Array(rotated.buffer)[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= key;
    i += words * 4;
  }
  for (; i < data.byteLength; i++) data[i] ^= mask[i & 3];
}

/** One client frame: FIN set, masked as RFC 6455 requires of clients. */
export function encodeClientFrame(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const n = payload.byteLength;
  const lengthBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + 4 + n);
  out[0] = 0x80 | opcode;
  if (lengthBytes === 0) out[1] = 0x80 | n;
  else if (lengthBytes === 2) {
    out[1] = 0x80 | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  const mask = out.subarray(2 + lengthBytes, 6 + lengthBytes);
  crypto.getRandomValues(mask);
  const body = out.subarray(6 + lengthBytes);
  body.set(payload);
  applyMask(body, mask);
  return out;
}

/** A frame header as read from the wire. */
export interface FrameHeader {
  fin: boolean;
  opcode: number;
  masked: boolean;
  /** Payload length. */
  length: number;
  /** Where the payload starts (after the mask key when masked). */
  offset: number;
}

/** The longest frame header: 2 bytes, 8 of length, 4 of mask. */
export const MAX_FRAME_HEADER_BYTES = 14;

/** Reads the header of the frame at the start of `buffer`, or undefined when not all of it has arrived. */
export function readFrameHeader(buffer: Uint8Array): FrameHeader | undefined {
  if (buffer.byteLength < 2) return undefined;
  const masked = (buffer[1] & 0x80) !== 0;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.byteLength < 4) return undefined;
    length = (buffer[2] << 8) | buffer[3];
    offset = 4;
  } else if (length === 127) {
    if (buffer.byteLength < 10) return undefined;
    length = Number(new DataView(buffer.buffer, buffer.byteOffset + 2, 8).getBigUint64(0));
    offset = 10;
  }
  if (masked) offset += 4;
  if (buffer.byteLength < offset) return undefined;
  return { fin: (buffer[0] & 0x80) !== 0, opcode: buffer[0] & 0x0f, masked, length, offset };
}

/** The Sec-WebSocket-Accept value for a Sec-WebSocket-Key. */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Where the blank line ending an HTTP head starts, or -1. */
export function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.byteLength; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

/** What a client reads from a server's frames, in order. */
export type ServerFrameEvent =
  | { kind: "message"; text: boolean; data: Uint8Array }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "close"; code: number; reason: string }
  /** The server broke the protocol (1002) or sent a message over the bound (1009): close with this. */
  | { kind: "fail"; code: 1002 | 1009; reason: string };

/**
 * The frames a WebSocket server sends its client, read as they arrive:
 * unmasked, fragmented messages joined (up to `maxMessageBytes` in all),
 * pongs dropped. After a close or a failure it reads nothing more.
 */
export class ServerFrameReader {
  #received = new ByteQueue();
  #maxMessageBytes: number;
  #fragments: Uint8Array[] = [];
  #fragmentBytes = 0;
  #fragmentText = false;
  #ended = false;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Queues bytes read from the connection; kept by reference, so a buffer the caller reuses must be copied first. */
  push(bytes: Uint8Array): void {
    if (!this.#ended) this.#received.push(bytes);
  }

  /** The next event, or undefined until more bytes arrive. */
  next(): ServerFrameEvent | undefined {
    while (!this.#ended) {
      const header = readFrameHeader(this.#received.peek(Math.min(MAX_FRAME_HEADER_BYTES, this.#received.length)));
      if (!header) return undefined;
      if (header.masked) return this.#fail(1002, "Server frames must not be masked");
      if (header.length > this.#maxMessageBytes) return this.#fail(1009, "Message too large");
      if (this.#received.length < header.offset + header.length) return undefined;
      const payload = this.#received.take(header.offset + header.length).subarray(header.offset);
      switch (header.opcode) {
        case Opcode.Ping:
          return { kind: "ping", payload };
        case Opcode.Pong:
          continue;
        case Opcode.Close: {
          this.#ended = true;
          const code = payload.byteLength >= 2 ? (payload[0] << 8) | payload[1] : 1005;
          return { kind: "close", code, reason: new TextDecoder().decode(payload.subarray(2)) };
        }
        case Opcode.Text:
        case Opcode.Binary:
          if (this.#fragments.length > 0) return this.#fail(1002, "A new message began before the last one ended");
          this.#fragmentText = header.opcode === Opcode.Text;
          this.#fragments = [];
          this.#fragmentBytes = 0;
          break;
        case Opcode.Continuation:
          if (this.#fragments.length === 0) return this.#fail(1002, "A continuation frame with no message to continue");
          break;
        default:
          return this.#fail(1002, `Unknown opcode ${header.opcode}`);
      }
      this.#fragments.push(payload);
      this.#fragmentBytes += payload.byteLength;
      if (this.#fragmentBytes > this.#maxMessageBytes) return this.#fail(1009, "Message too large");
      if (!header.fin) continue;
      const data = this.#fragments.length === 1 ? this.#fragments[0] : joinBytes(this.#fragments, this.#fragmentBytes);
      this.#fragments = [];
      this.#fragmentBytes = 0;
      return { kind: "message", text: this.#fragmentText, data };
    }
    return undefined;
  }

  #fail(code: 1002 | 1009, reason: string): ServerFrameEvent {
    this.#ended = true;
    return { kind: "fail", code, reason };
  }
}
