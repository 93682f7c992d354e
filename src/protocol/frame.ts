import {
  Flag,
  FrameKind,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PAYLOAD_BYTES,
  VERSION,
} from "./constants.ts";
import { ProtocolError } from "./protocol-error.ts";

/** One decoded frame. `payload` is a view into the message it came from. */
export interface Frame {
  kind: FrameKind;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const KNOWN_KINDS = new Set<number>(Object.values(FrameKind));
/** Kinds that belong to the connection (stream 0) rather than to a stream. */
const CONNECTION_KINDS = new Set<number>([
  FrameKind.Hello,
  FrameKind.Welcome,
  FrameKind.Ping,
  FrameKind.GoAway,
]);

/** Exact or minimum payload sizes, checked before anything else is read. */
const EXACT_PAYLOAD: Partial<Record<number, number>> = {
  [FrameKind.End]: 0,
  [FrameKind.WindowUpdate]: 4,
  [FrameKind.Ping]: 8,
};
const MIN_PAYLOAD: Partial<Record<number, number>> = {
  [FrameKind.Reset]: 4,
  [FrameKind.GoAway]: 4,
};

/**
 * Encodes one frame into a fresh buffer: header then payload.
 *
 * @example
 * ```ts
 * const bytes = encodeFrame(FrameKind.Data, 0, 3, new TextEncoder().encode("hi"));
 * ```
 */
export function encodeFrame(
  kind: FrameKind,
  flags: number,
  streamId: number,
  payload: Uint8Array = EMPTY,
): Uint8Array<ArrayBuffer> {
  const length = payload.byteLength;
  if (length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`Frame payload too large: ${length} bytes`);
  }
  const bytes = new Uint8Array(HEADER_BYTES + length);
  bytes[0] = VERSION;
  bytes[1] = kind;
  bytes[2] = (flags >>> 8) & 0xff;
  bytes[3] = flags & 0xff;
  bytes[4] = (streamId >>> 24) & 0xff;
  bytes[5] = (streamId >>> 16) & 0xff;
  bytes[6] = (streamId >>> 8) & 0xff;
  bytes[7] = streamId & 0xff;
  bytes[8] = (length >>> 24) & 0xff;
  bytes[9] = (length >>> 16) & 0xff;
  bytes[10] = (length >>> 8) & 0xff;
  bytes[11] = length & 0xff;
  if (length > 0) bytes.set(payload, HEADER_BYTES);
  return bytes;
}

/** A decoded frame and the offset where the next one begins. */
export interface FrameAt extends Frame {
  end: number;
}

/**
 * Decodes the frame at `offset` of a message, checking version, kind, flags,
 * length and stream id before touching the payload. Throws
 * {@linkcode ProtocolError} on anything wrong.
 */
export function decodeFrameAt(message: Uint8Array, offset: number): FrameAt {
  const available = message.byteLength - offset;
  if (available < HEADER_BYTES) {
    throw new ProtocolError(`Truncated frame: ${available} bytes`);
  }
  const b = message;
  const o = offset;
  if (b[o] !== VERSION) {
    throw new ProtocolError(`Unsupported protocol version: ${b[o]}`);
  }
  const kind = b[o + 1];
  if (!KNOWN_KINDS.has(kind)) {
    throw new ProtocolError(`Unknown frame kind: ${kind}`);
  }
  const flags = (b[o + 2] << 8) | b[o + 3];
  const streamId = ((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0;
  const payloadBytes = ((b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11]) >>> 0;
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    throw new ProtocolError(`Frame too large: ${payloadBytes} payload bytes`);
  }
  if (payloadBytes > available - HEADER_BYTES) {
    throw new ProtocolError(`Truncated frame: ${payloadBytes} payload bytes announced, ${available - HEADER_BYTES} present`);
  }
  if (CONNECTION_KINDS.has(kind) !== (streamId === 0)) {
    throw new ProtocolError(`Frame kind ${kind} on wrong stream id: ${streamId}`);
  }
  const exact = EXACT_PAYLOAD[kind];
  if (exact !== undefined && payloadBytes !== exact) {
    throw new ProtocolError(`Frame kind ${kind} needs ${exact} payload bytes, got ${payloadBytes}`);
  }
  const min = MIN_PAYLOAD[kind];
  if (min !== undefined && payloadBytes < min) {
    throw new ProtocolError(`Frame kind ${kind} needs at least ${min} payload bytes, got ${payloadBytes}`);
  }
  if ((flags & ~(Flag.EndStream | Flag.Ack)) !== 0) {
    throw new ProtocolError(`Unknown flags: 0x${flags.toString(16)}`);
  }
  const start = o + HEADER_BYTES;
  return {
    kind: kind as FrameKind,
    flags,
    streamId,
    // A plain view constructor: much cheaper than subarray() on hot paths.
    payload: new Uint8Array(b.buffer, b.byteOffset + start, payloadBytes),
    end: start + payloadBytes,
  };
}

/** Decodes a message that must hold exactly one frame (the handshake). */
export function decodeFrame(message: Uint8Array): Frame {
  if (message.byteLength > MAX_MESSAGE_BYTES) {
    throw new ProtocolError(`Message too large: ${message.byteLength} bytes`);
  }
  const frame = decodeFrameAt(message, 0);
  if (frame.end !== message.byteLength) {
    throw new ProtocolError(`Trailing bytes after a frame: ${message.byteLength - frame.end}`);
  }
  return frame;
}

/** Payload of Reset and GoAway: u32 code then a UTF-8 message. */
export function encodeReason(code: number, message: string): Uint8Array<ArrayBuffer> {
  const text = new TextEncoder().encode(message.slice(0, 1024));
  const out = new Uint8Array(4 + text.byteLength);
  new DataView(out.buffer).setUint32(0, code);
  out.set(text, 4);
  return out;
}

/** Reads a Reset or GoAway payload. */
export function decodeReason(payload: Uint8Array): { code: number; message: string } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return {
    code: view.getUint32(0),
    message: new TextDecoder().decode(payload.subarray(4)),
  };
}

/** Payload of a WindowUpdate: u32 credit. */
export function encodeCredit(bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, bytes);
  return out;
}

/** Reads a WindowUpdate payload. */
export function decodeCredit(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
}
