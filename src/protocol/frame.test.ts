import { describe, expect, test } from "bun:test";
import { Flag, FrameKind, HEADER_BYTES, MAX_PAYLOAD_BYTES } from "./constants.ts";
import { decodeCredit, decodeFrame, decodeFrameAt, decodeReason, encodeCredit, encodeFrame, encodeReason } from "./frame.ts";
import { ProtocolError } from "./protocol-error.ts";

const payloadFor: Record<number, Uint8Array> = {
  [FrameKind.Hello]: new TextEncoder().encode("{}"),
  [FrameKind.Welcome]: new TextEncoder().encode("{}"),
  [FrameKind.RequestHead]: new TextEncoder().encode("{}"),
  [FrameKind.ResponseHead]: new TextEncoder().encode("{}"),
  [FrameKind.Data]: new Uint8Array([1, 2, 3]),
  [FrameKind.End]: new Uint8Array(0),
  [FrameKind.Reset]: encodeReason(3, "boom"),
  [FrameKind.WindowUpdate]: encodeCredit(131072),
  [FrameKind.Ping]: new Uint8Array(8).fill(7),
  [FrameKind.GoAway]: encodeReason(0, "bye"),
};
const connectionKinds = new Set<number>([FrameKind.Hello, FrameKind.Welcome, FrameKind.Ping, FrameKind.GoAway]);

describe("encodeFrame() / decodeFrame()", () => {
  for (const [name, kind] of Object.entries(FrameKind)) {
    test(`round-trips ${name}`, () => {
      const streamId = connectionKinds.has(kind) ? 0 : 0xfffffffe;
      const flags = kind === FrameKind.Ping ? Flag.Ack : kind === FrameKind.Data ? Flag.EndStream : 0;
      const frame = decodeFrame(encodeFrame(kind, flags, streamId, payloadFor[kind]));
      expect(frame.kind).toBe(kind);
      expect(frame.flags).toBe(flags);
      expect(frame.streamId).toBe(streamId);
      expect([...frame.payload]).toEqual([...payloadFor[kind]]);
    });
  }

  test("carries empty and maximum payloads", () => {
    expect(decodeFrame(encodeFrame(FrameKind.Data, 0, 1)).payload.byteLength).toBe(0);
    const big = new Uint8Array(MAX_PAYLOAD_BYTES).fill(9);
    const frame = decodeFrame(encodeFrame(FrameKind.Data, 0, 1, big));
    expect(frame.payload.byteLength).toBe(MAX_PAYLOAD_BYTES);
    expect(frame.payload[MAX_PAYLOAD_BYTES - 1]).toBe(9);
  });

  test("reads several frames from one message", () => {
    const a = encodeFrame(FrameKind.Data, 0, 1, Uint8Array.of(1));
    const b = encodeFrame(FrameKind.End, 0, 1);
    const message = new Uint8Array(a.byteLength + b.byteLength);
    message.set(a);
    message.set(b, a.byteLength);
    const first = decodeFrameAt(message, 0);
    const second = decodeFrameAt(message, first.end);
    expect([first.kind, second.kind, second.end]).toEqual([FrameKind.Data, FrameKind.End, message.byteLength]);
  });

  test("reads a frame that is a view into a larger buffer", () => {
    const bytes = encodeFrame(FrameKind.Data, 0, 5, new Uint8Array([4, 2]));
    const pool = new Uint8Array(100);
    pool.set(bytes, 40);
    const frame = decodeFrame(pool.subarray(40, 40 + bytes.byteLength));
    expect(frame.streamId).toBe(5);
    expect([...frame.payload]).toEqual([4, 2]);
  });

  test("refuses to encode an oversized payload", () => {
    expect(() => encodeFrame(FrameKind.Data, 0, 1, new Uint8Array(MAX_PAYLOAD_BYTES + 1))).toThrow(RangeError);
  });

  /** A raw frame: header fields as given, the length field from the payload. */
  const raw = (version: number, kind: number, flags: number, stream: number, payload: number[] = [], length = payload.length) => {
    const bytes = new Uint8Array(HEADER_BYTES + payload.length);
    const view = new DataView(bytes.buffer);
    bytes[0] = version;
    bytes[1] = kind;
    view.setUint16(2, flags);
    view.setUint32(4, stream);
    view.setUint32(8, length);
    bytes.set(payload, HEADER_BYTES);
    return bytes;
  };
  const bad: [string, Uint8Array][] = [
    ["truncated header", new Uint8Array(HEADER_BYTES - 1)],
    ["a length over the maximum", raw(1, 5, 0, 1, [], MAX_PAYLOAD_BYTES + 1)],
    ["a length past the message", raw(1, 5, 0, 1, [1, 2], 3)],
    ["trailing bytes", Uint8Array.of(...raw(1, 5, 0, 1, [1]), 0)],
    ["wrong version", raw(2, 5, 0, 1)],
    ["unknown kind", raw(1, 0x7f, 0, 1)],
    ["unknown flag", raw(1, 5, 0x80, 1)],
    ["data on stream 0", raw(1, 5, 0, 0)],
    ["ping on a stream", raw(1, 9, 0, 3, [1, 2, 3, 4, 5, 6, 7, 8])],
    ["short window update", raw(1, 8, 0, 1, [0, 0])],
    ["end with payload", raw(1, 6, 0, 1, [9])],
    ["reset without code", raw(1, 7, 0, 1, [0])],
  ];
  test("the raw builder makes frames the decoder accepts", () => {
    expect(decodeFrame(raw(1, 5, 0, 1, [1, 2])).payload).toEqual(Uint8Array.of(1, 2));
  });
  for (const [name, bytes] of bad) {
    test(`rejects ${name}`, () => {
      expect(() => decodeFrame(bytes)).toThrow(ProtocolError);
    });
  }
});

describe("reason and credit payloads", () => {
  test("round-trip", () => {
    expect(decodeReason(encodeReason(6, "too large ✓"))).toEqual({ code: 6, message: "too large ✓" });
    expect(decodeCredit(encodeCredit(0xffffffff))).toBe(0xffffffff);
  });
});
