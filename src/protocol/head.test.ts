import { describe, expect, test } from "bun:test";
import { MAX_PAYLOAD_BYTES } from "./constants.ts";
import { decodeHello, decodeRequestHead, decodeResponseHead, encodeHead, encodeJson } from "./head.ts";
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
});
