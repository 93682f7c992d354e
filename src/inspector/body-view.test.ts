import { describe, expect, test } from "bun:test";
import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { bodyDisplay, formFields, hexDump, jsonIndentChars, MAX_DECODED_BYTES, MAX_FORM_CHARS, MAX_FORM_FIELDS, MAX_PRETTY_JSON_CHARS, MAX_TEXT_CHARS } from "./body-view.ts";

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

  test("a small gzip of `a&` that decodes to millions of fields: a bounded view, shown raw", () => {
    const bomb = gzipSync("a&".repeat(4 * 1024 * 1024), { level: 9 });
    expect(bomb.byteLength).toBeLessThan(40 * 1024);
    const d = bodyDisplay([["content-type", "application/x-www-form-urlencoded"], ["content-encoding", "gzip"]], bomb, false);
    expect(d.decodeError).toContain("exceeds 1 MiB");
    expect(JSON.stringify(d).length).toBeLessThan(64 * 1024);
  });

  test("a form of up to 1 MiB decoded: the first MAX_FORM_FIELDS fields, the rest counted", () => {
    const form = "a&".repeat(MAX_DECODED_BYTES / 2 - 8);
    const d = bodyDisplay([["content-type", "application/x-www-form-urlencoded"], ["content-encoding", "gzip"]], gzipSync(form), false);
    expect(d.view.kind).toBe("form");
    if (d.view.kind !== "form") return;
    expect(d.view.fields.length).toBe(MAX_FORM_FIELDS);
    expect(d.view.cut).toBe(`showing the first ${MAX_FORM_FIELDS} of ${MAX_DECODED_BYTES / 2 - 8} fields`);
    expect(JSON.stringify(d).length).toBeLessThan(64 * 1024);
  });

  test("formFields() decodes as URLSearchParams does, empty pieces skipped", () => {
    const text = "x=1&&y=a+b%21&z&=v&";
    expect(formFields(text, { maxFields: 100, maxChars: 100 })).toEqual({ fields: [...new URLSearchParams(text)] });
    expect(formFields(text, { maxFields: 2, maxChars: 100 })).toEqual({ fields: [["x", "1"], ["y", "a b!"]], cut: "showing the first 2 of 4 fields" });
  });

  test("formFields() reads only the first maxChars characters: the field across them cut short, the rest counted", () => {
    expect(formFields("a=12345&b=2&c=3", { maxFields: 10, maxChars: 5 })).toEqual({ fields: [["a", "123"]], cut: "showing the first 1 of 3 fields, the last cut at 5 characters of the body" });
    // A field that starts at the bound is counted, not shown.
    expect(formFields("a=1&b=2", { maxFields: 10, maxChars: 4 })).toEqual({ fields: [["a", "1"]], cut: "showing the first 1 of 2 fields" });
  });

  test("one form value of 1 MiB: its first MAX_FORM_CHARS characters", () => {
    const d = bodyDisplay([["content-type", "application/x-www-form-urlencoded"]], enc(`v=${"x".repeat(MAX_DECODED_BYTES - 2)}&w=1`), false);
    expect(d.view.kind).toBe("form");
    if (d.view.kind !== "form") return;
    expect([d.view.fields.length, d.view.fields[0][1].length, d.view.cut]).toEqual([1, MAX_FORM_CHARS - 2, `showing the first 1 of 2 fields, the last cut at ${MAX_FORM_CHARS} characters of the body`]);
  });

  test("JSON nested thousands deep is shown as text, not indented line by line", () => {
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const started = performance.now();
    const v = bodyDisplay([["content-type", "application/json"]], enc(deep), false).view;
    expect(v).toEqual({ kind: "text", text: deep, cut: "nested too deeply to pretty-print" });
    expect(performance.now() - started).toBeLessThan(1000); // pretty-printed, this took 5 s and gigabytes
    const obj = `${'{"a":'.repeat(2000)}1${"}".repeat(2000)}`;
    expect(bodyDisplay([["content-type", "application/json"]], enc(obj), false).view.kind).toBe("text");
    expect(bodyDisplay([["content-type", "application/json"]], enc('{"a":[1,{"b":2}]}'), false).view.kind).toBe("json");
  });

  test("jsonIndentChars() counts the indentation JSON.stringify adds, brackets inside strings ignored", () => {
    for (const json of ['{"a":1,"b":[true,null]}', '[[["x"]],{"k":"[,{"}]', '"a\\\\"', '{"q":"\\"}"}']) {
      const pretty = JSON.stringify(JSON.parse(json), null, 2);
      const indent = pretty.split("\n").reduce((n, line) => n + line.length - line.trimStart().length, 0);
      expect([json, jsonIndentChars(json, 1e9)]).toEqual([json, indent]);
    }
    expect(jsonIndentChars("[[],{}]", 1e9)).toBe(16); // printed: 4; // an empty one counted as if it held a value: a bound
    expect(jsonIndentChars("[".repeat(10_000), 1000)).toBeLessThan(1200); // stops once past the limit
  });

  test("long text and long JSON: shown up to MAX_TEXT_CHARS, cut said; large JSON is not pretty-printed", () => {
    const text = "é".repeat(MAX_TEXT_CHARS + 10);
    const t = bodyDisplay([["content-type", "text/plain"]], enc(text), false).view;
    expect(t).toEqual({ kind: "text", text: text.slice(0, MAX_TEXT_CHARS), cut: `showing the first ${MAX_TEXT_CHARS} of ${MAX_TEXT_CHARS + 10} characters` });
    // Pretty-printing multiplies the size: its result is cut the same way.
    const array = `[${"1,".repeat(MAX_PRETTY_JSON_CHARS / 2 - 2)}1]`;
    const j = bodyDisplay([["content-type", "application/json"]], enc(array), false).view;
    expect(j.kind).toBe("json");
    if (j.kind === "json") expect([j.text.length, j.cut?.startsWith(`showing the first ${MAX_TEXT_CHARS} of`)]).toEqual([MAX_TEXT_CHARS, true]);
    const big = `[${"1,".repeat(MAX_PRETTY_JSON_CHARS)}1]`;
    expect(bodyDisplay([["content-type", "application/json"]], enc(big), false).view.kind).toBe("text");
  });

  test("a cut never splits a surrogate pair", () => {
    const text = `${"a".repeat(MAX_TEXT_CHARS - 1)}😀tail`;
    const v = bodyDisplay([["content-type", "text/plain"]], enc(text), false).view;
    expect(v.kind === "text" && v.text).toBe("a".repeat(MAX_TEXT_CHARS - 1));
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
