import { ByteQueue } from "./byte-queue.ts";
import { ProtocolError } from "./protocol-error.ts";

/**
 * A WebSocket stream carries the messages of one visitor socket as records
 * inside its body bytes, each direction on its own: kind (u8), payload length
 * (u32 BE), payload. The body's frames, window and End are the same as an HTTP
 * body's, so WebSocket streams get the same flow control for free.
 */
export const RecordKind = {
  Text: 1,
  Binary: 2,
  /** u16 BE close code + UTF-8 reason; the sender's last record. */
  Close: 8,
} as const;
export type RecordKind = typeof RecordKind[keyof typeof RecordKind];

export const RECORD_HEADER_BYTES = 5;

/** The largest message a WebSocket stream carries (each way). */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024 * 1024;

/** One message of a visitor socket. */
export interface WebSocketRecord {
  kind: RecordKind;
  payload: Uint8Array;
}

const encoder = new TextEncoder();

/** Encodes one record: header and payload in one buffer. */
export function encodeRecord(kind: RecordKind, payload: Uint8Array | string): Uint8Array<ArrayBuffer> {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const out = new Uint8Array(RECORD_HEADER_BYTES + bytes.byteLength);
  out[0] = kind;
  new DataView(out.buffer).setUint32(1, bytes.byteLength);
  out.set(bytes, RECORD_HEADER_BYTES);
  return out;
}

/** A close record's payload: the code (1000 when none) and the reason, cut to the 123 bytes a close frame allows. */
export function encodeClose(code: number, reason: string): Uint8Array<ArrayBuffer> {
  let text = encoder.encode(reason);
  if (text.byteLength > 123) text = encoder.encode(reason.slice(0, 40));
  const out = new Uint8Array(2 + text.byteLength);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return encodeRecord(RecordKind.Close, out);
}

/** Reads a close record's code and reason. */
export function decodeClose(payload: Uint8Array): { code: number; reason: string } {
  if (payload.byteLength < 2) return { code: 1005, reason: "" };
  const code = (payload[0] << 8) | payload[1];
  return { code, reason: new TextDecoder().decode(payload.subarray(2)) };
}

/** Collects body chunks and hands out whole records. */
export class RecordParser {
  #queue = new ByteQueue();

  /** Adds body bytes; returns the records they complete. Throws ProtocolError on a bad record. */
  push(chunk: Uint8Array): WebSocketRecord[] {
    this.#queue.push(chunk);
    const records: WebSocketRecord[] = [];
    while (this.#queue.length >= RECORD_HEADER_BYTES) {
      const header = this.#queue.peek(RECORD_HEADER_BYTES);
      const kind = header[0];
      if (kind !== RecordKind.Text && kind !== RecordKind.Binary && kind !== RecordKind.Close) {
        throw new ProtocolError(`Unknown WebSocket record kind ${kind}`);
      }
      const length = new DataView(header.buffer, header.byteOffset, RECORD_HEADER_BYTES).getUint32(1);
      if (length > MAX_WEBSOCKET_MESSAGE_BYTES) throw new ProtocolError(`WebSocket message of ${length} bytes is over the limit`);
      if (this.#queue.length < RECORD_HEADER_BYTES + length) break;
      records.push({ kind: kind as RecordKind, payload: this.#queue.take(RECORD_HEADER_BYTES + length).subarray(RECORD_HEADER_BYTES) });
    }
    return records;
  }

  /** Bytes of an unfinished record. */
  get pending(): number {
    return this.#queue.length;
  }
}
