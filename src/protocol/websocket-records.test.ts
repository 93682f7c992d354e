import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeClose, encodeClose, encodeRecord, RecordKind, RecordParser } from "./websocket-records.ts";

describe("WebSocket records", () => {
  test("any split of the bytes gives back the same records, in order", () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.constantFrom(RecordKind.Text, RecordKind.Binary), fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
      (messages, cuts) => {
        const bytes = new Uint8Array(messages.reduce((n, [, p]) => n + 5 + p.byteLength, 0));
        let offset = 0;
        for (const [kind, payload] of messages) {
          bytes.set(encodeRecord(kind, payload), offset);
          offset += 5 + payload.byteLength;
        }
        const parser = new RecordParser();
        const got: [number, number[]][] = [];
        for (let at = 0, i = 0; at < bytes.byteLength; i++) {
          const n = cuts[i % cuts.length];
          for (const r of parser.push(bytes.subarray(at, at + n))) got.push([r.kind, [...r.payload]]);
          at += n;
        }
        expect(got).toEqual(messages.map(([k, p]) => [k, [...p]]));
        expect(parser.pending).toBe(0);
      },
    ));
  });

  test("close records carry code and reason; unknown kinds and huge lengths are protocol errors", () => {
    const [close] = new RecordParser().push(encodeClose(4321, "bye now"));
    expect(close.kind).toBe(RecordKind.Close);
    expect(decodeClose(close.payload)).toEqual({ code: 4321, reason: "bye now" });
    expect(decodeClose(new Uint8Array(0)).code).toBe(1005);
    expect(() => new RecordParser().push(new Uint8Array([7, 0, 0, 0, 0]))).toThrow("Unknown WebSocket record kind 7");
    expect(() => new RecordParser().push(new Uint8Array([2, 0xff, 0xff, 0xff, 0xff]))).toThrow("over the limit");
  });
});
