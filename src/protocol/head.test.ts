import { describe, expect, test } from "bun:test";
import { MAX_PAYLOAD_BYTES } from "./constants.ts";
import {
  carriableHeaders,
  decodeHello,
  decodeRequestHead,
  decodeResponseHead,
  encodeHead,
  encodeJson,
  headBytes,
  requestHeadProblem,
  responseHeadProblem,
} from "./head.ts";
import { ProtocolError } from "./protocol-error.ts";

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe("request and response heads", () => {
  test("round-trip with repeated headers and raw paths", () => {
    const head = {
      method: "PATCH",
      target: "/a%2Fb/%E2%9C%93?q=%20x&q=2",
      headers: [["cookie", "a=1"], ["x-multi", "1"], ["x-multi", "2"]] as [string, string][],
    };
    expect(decodeRequestHead(encodeHead(head))).toEqual(head);
    const response = { status: 302, headers: [["set-cookie", "a=1; Path=/"], ["set-cookie", "b=2"]] as [string, string][] };
    expect(decodeResponseHead(encodeHead(response))).toEqual(response);
  });

  test("refuse a head larger than one frame", () => {
    const headers: [string, string][] = [["x-big", "a".repeat(MAX_PAYLOAD_BYTES)]];
    expect(() => encodeHead({ status: 200, headers })).toThrow(RangeError);
  });

  const badRequests: [string, unknown][] = [
    ["not an object", [1, 2]],
    ["bad method", { method: "GE T", target: "/", headers: [] }],
    ["target without slash", { method: "GET", target: "http://x/", headers: [] }],
    ["target with a space", { method: "GET", target: "/a b", headers: [] }],
    ["headers not a list", { method: "GET", target: "/", headers: {} }],
    ["header with CRLF", { method: "GET", target: "/", headers: [["x", "a\r\nb: c"]] }],
    ["header with a bad name", { method: "GET", target: "/", headers: [["x y", "1"]] }],
    ["header triple", { method: "GET", target: "/", headers: [["x", "1", "2"]] }],
    ["header with DEL", { method: "GET", target: "/", headers: [["x", "a\x7f"]] }],
    ["header with NUL", { method: "GET", target: "/", headers: [["x", "a\0"]] }],
    ["header past U+00FF", { method: "GET", target: "/", headers: [["x", "\u2603"]] }],
  ];
  for (const [name, value] of badRequests) {
    test(`request head: rejects ${name}`, () => {
      expect(() => decodeRequestHead(bytes(value))).toThrow(ProtocolError);
    });
  }

  test("rejects non-JSON, bad UTF-8 and bad statuses", () => {
    expect(() => decodeRequestHead(new TextEncoder().encode("{nope"))).toThrow(ProtocolError);
    expect(() => decodeRequestHead(Uint8Array.of(0xff, 0xfe))).toThrow(ProtocolError);
    expect(() => decodeResponseHead(bytes({ status: 99, headers: [] }))).toThrow(ProtocolError);
    expect(() => decodeResponseHead(bytes({ status: 200.5, headers: [] }))).toThrow(ProtocolError);
    expect(() => decodeResponseHead(bytes({ status: "200", headers: [] }))).toThrow(ProtocolError);
    expect(() => decodeResponseHead(bytes({ status: 100, headers: [] }))).toThrow(ProtocolError);
  });

  test("WebSocket streams: the request flag and the 101 answer", () => {
    const head = { method: "GET", target: "/ws", headers: [], websocket: true };
    expect(decodeRequestHead(bytes(head))).toEqual(head);
    expect(decodeRequestHead(bytes({ ...head, websocket: false })).websocket).toBeUndefined();
    expect(() => decodeRequestHead(bytes({ ...head, websocket: "yes" }))).toThrow(ProtocolError);
    expect(decodeResponseHead(bytes({ status: 101, headers: [["sec-websocket-protocol", "chat"]] })).status).toBe(101);
  });

  test("hello needs its fields", () => {
    expect(decodeHello(encodeJson({ session: "a", token: "t", window: 65536 }))).toEqual({ session: "a", token: "t", window: 65536 });
    expect(() => decodeHello(bytes({ session: "a" }))).toThrow(ProtocolError);
  });

  test("one rule: what requestHeadProblem() passes, decodeRequestHead() accepts, and back", () => {
    for (let code = 0; code < 0x110; code++) {
      const head = { method: "GET", target: "/", headers: [["x-v", `a${String.fromCharCode(code)}b`]] as [string, string][] };
      const problem = requestHeadProblem(head);
      const decoded = (() => {
        try {
          decodeRequestHead(encodeHead(head));
          return true;
        } catch {
          return false;
        }
      })();
      expect(decoded).toBe(problem === undefined);
      expect(responseHeadProblem({ status: 200, headers: head.headers })).toBe(problem);
    }
  });

  test("headBytes() counts the target and one line per header", () => {
    expect(headBytes({ target: "/abc", headers: [["a", "1"], ["bb", ""]] })).toBe(4 + (1 + 1 + 4) + (2 + 0 + 4));
  });
});

describe("carriableHeaders()", () => {
  test("a value decoded as UTF-8 goes back to its bytes, one Latin-1 character each", () => {
    const { headers, dropped } = carriableHeaders([["x-reason", "caf\u00e9 \u2603"], ["x-ok", "plain"]]);
    expect(headers).toEqual([["x-reason", "caf\u00c3\u00a9 \u00e2\u0098\u0083"], ["x-ok", "plain"]]);
    expect(dropped).toEqual([]);
  });

  test("control characters and bad names are left out, and named", () => {
    const input: [string, string][] = [["x-a", "1"], ["x-del", "a\x7f"], ["bad name", "2"], ["x-nul", "\0"], ["x-b", "\u00ff"]];
    const { headers, dropped } = carriableHeaders(input);
    expect(headers).toEqual([["x-a", "1"], ["x-b", "\u00ff"]]);
    expect(dropped).toEqual(["x-del", "bad name", "x-nul"]);
  });

  test("returns the same list when nothing changes", () => {
    const input: [string, string][] = [["a", "1"], ["b", "\t2 "]];
    expect(carriableHeaders(input).headers).toBe(input);
  });
});
