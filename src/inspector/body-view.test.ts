import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { bodyDisplay, hexDump, MAX_DECODED_BYTES } from "./body-view.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("bodyDisplay()", () => {
  test("JSON is pretty-printed", () => {
    const d = bodyDisplay([["content-type", "application/json; charset=utf-8"]], enc('{"a":1,"b":[true,null]}'), false);
    expect(d.view).toEqual({ kind: "json", text: '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}' });
    expect(bodyDisplay([["content-type", "application/vnd.api+json"]], enc("[1]"), false).view.kind).toBe("json");
  });

  test("JSON cut at the capture limit is shown as text", () => {
    expect(bodyDisplay([["content-type", "application/json"]], enc('{"a": [1, 2'), true).view).toEqual({ kind: "text", text: '{"a": [1, 2' });
  });

  test("form data becomes fields", () => {
    const d = bodyDisplay([["Content-Type", "application/x-www-form-urlencoded"]], enc("name=J%C3%BCrgen&x=a+b&x=2"), false);
    expect(d.view).toEqual({ kind: "form", fields: [["name", "Jürgen"], ["x", "a b"], ["x", "2"]] });
  });

  test("text stays text, markup included (the page shows it as characters)", () => {
    const d = bodyDisplay([["content-type", "text/html"]], enc("<script>alert(1)</script>"), false);
    expect(d.view).toEqual({ kind: "text", text: "<script>alert(1)</script>" });
    // Without a type, UTF-8 without control characters is text.
    expect(bodyDisplay([], enc("héllo\nworld\t!"), false).view.kind).toBe("text");
  });

  test("binary is shown as hex; a capture cut inside a UTF-8 character is still text", () => {
    const d = bodyDisplay([["content-type", "application/octet-stream"]], new Uint8Array([0, 1, 2, 0xff, 0x41]), false);
    expect(d.view).toEqual({ kind: "binary", hex: `00000000  ${"00 01 02 ff 41".padEnd(47)}  |....A|` });
    expect(bodyDisplay([], enc("ab€").subarray(0, 4), true).view).toEqual({ kind: "text", text: "ab" });
  });

  test("gzip, deflate and br bodies are decoded for display", () => {
    const json = '{"ok":true}';
    for (const [encoding, bytes] of [["gzip", gzipSync(json)], ["deflate", deflateSync(json)], ["br", brotliCompressSync(json)]] as const) {
      const d = bodyDisplay([["content-type", "application/json"], ["content-encoding", encoding]], bytes, false);
      expect(d.decodedFrom).toBe(encoding);
      expect(d.view).toEqual({ kind: "json", text: '{\n  "ok": true\n}' });
    }
  });

  test("a compressed body that would expand past the bound, or does not decode, is shown raw", () => {
    const bomb = gzipSync(new Uint8Array(MAX_DECODED_BYTES + 1024));
    const d = bodyDisplay([["content-encoding", "gzip"]], bomb, false);
    expect(d.view.kind).toBe("binary");
    expect(d.decodeError).toContain("exceeds");
    expect(bodyDisplay([["content-encoding", "gzip"]], enc("not gzip"), false).decodeError).toContain("cannot decode");
    expect(bodyDisplay([["content-encoding", "zstd"]], enc("x"), false).decodeError).toContain("not decoded here");
  });

  test("nothing kept shows as empty", () => {
    expect(bodyDisplay([], new Uint8Array(0), false).view).toEqual({ kind: "empty" });
  });
});

test("hexDump() lines hold 16 bytes with their printable characters", () => {
  expect(hexDump(enc("0123456789abcdefXY")).split("\n")).toEqual([
    "00000000  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  |0123456789abcdef|",
    "00000010  58 59                                            |XY|",
  ]);
});
