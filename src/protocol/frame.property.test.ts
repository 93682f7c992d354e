import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FrameKind, HEADER_BYTES } from "./constants.ts";
import { decodeFrame, encodeFrame } from "./frame.ts";
import { decodeHello, decodeRequestHead, decodeResponseHead, encodeHead } from "./head.ts";
import { ProtocolError } from "./protocol-error.ts";

/** Runs `f` and fails the property unless it returns or throws ProtocolError. */
function onlyProtocolErrors(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    if (err instanceof ProtocolError) return true;
    throw err;
  }
}

describe("decodeFrame() under random input", () => {
  test("random bytes: a frame or a ProtocolError, nothing else", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyProtocolErrors(() => decodeFrame(bytes))), { numRuns: 5000 });
  });

  test("mutated valid frames: a frame or a ProtocolError", () => {
    const valid = encodeFrame(FrameKind.Data, 0, 7, new Uint8Array(32).fill(1));
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(valid.byteLength - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(valid.byteLength),
      (edits, cut) => {
        const bytes = valid.slice(0, cut);
        for (const [at, value] of edits) if (at < bytes.byteLength) bytes[at] = value;
        return onlyProtocolErrors(() => decodeFrame(bytes));
      },
    ), { numRuns: 5000 });
  });

  test("heads: random JSON-ish payloads never escape as other errors", () => {
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 100 }),
      fc.json().map((j) => new TextEncoder().encode(j)),
      fc.record({
        method: fc.string(), target: fc.string(), status: fc.integer(),
        headers: fc.array(fc.array(fc.string(), { maxLength: 3 }), { maxLength: 4 }),
      }).map((o) => new TextEncoder().encode(JSON.stringify(o))),
    );
    fc.assert(fc.property(payloads, (payload) =>
      onlyProtocolErrors(() => decodeRequestHead(payload)) &&
      onlyProtocolErrors(() => decodeResponseHead(payload)) &&
      onlyProtocolErrors(() => decodeHello(payload))
    ), { numRuns: 3000 });
  });

  test("any valid request head round-trips", () => {
    const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
    fc.assert(fc.property(
      fc.record({
        method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "PURGE"),
        target: fc.webPath().map((p) => "/" + p.replace(/^\//, "").replace(/\s/g, "")),
        headers: fc.array(fc.tuple(token, fc.stringMatching(/^[\x20-\x7e]{0,40}$/)), { maxLength: 8 }),
      }),
      (head) => {
        const frame = decodeFrame(encodeFrame(FrameKind.RequestHead, 0, 1, encodeHead(head)));
        expect(decodeRequestHead(frame.payload)).toEqual(head);
        expect(frame.payload.byteLength + HEADER_BYTES).toBe(encodeFrame(FrameKind.RequestHead, 0, 1, encodeHead(head)).byteLength);
      },
    ), { numRuns: 500 });
  });
});
