import { describe, expect, test } from "bun:test";
import { BodyKind, MalformedResponse, type ParsedHead, ResponseParser } from "./response-parser.ts";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Feeds `wire` to a fresh parser in pieces of `step` bytes; what came out. */
function read(wire: string, { step = wire.length, headOnly = false, close = false } = {}) {
  const heads: ParsedHead[] = [];
  let body = "";
  let ends = 0;
  const parser = new ResponseParser({
    onHead: (h) => heads.push(h),
    onBody: (b) => body += String.fromCharCode(...b),
    onEnd: () => ends++,
  });
  parser.reset(headOnly);
  const all = bytes(wire);
  let used = 0;
  for (let at = 0; at < all.length; at += step) used += parser.push(all.subarray(at, at + step));
  if (close) parser.close();
  return { heads, body, ends, used, done: parser.done };
}

describe("ResponseParser", () => {
  test("reads a Content-Length response, whole or a byte at a time", () => {
    const wire = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    for (const step of [wire.length, 1, 7]) {
      const r = read(wire, { step });
      expect(r.heads).toEqual([{ status: 200, headers: [["content-length", "5"], ["x-a", "b"]], body: BodyKind.Length, length: 5, keepAlive: true }]);
      expect(r.body).toBe("hello");
      expect(r.ends).toBe(1);
    }
  });

  test("reads chunked bodies with extensions, dropping trailers", () => {
    const wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (const step of [wire.length, 1, 3]) {
      const r = read(wire, { step });
      expect(r.heads[0].body).toBe(BodyKind.Chunked);
      expect(r.body).toBe("hello!");
      expect(r.ends).toBe(1);
      expect(r.used).toBe(wire.length);
    }
  });

  test("skips 1xx interim answers; refuses a 101 nobody asked for", () => {
    const r = read("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    expect(r.heads.map((h) => h.status)).toEqual([201]);
    expect(r.ends).toBe(1);
    expect(() => read("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")).toThrow(MalformedResponse);
  });

  test("HEAD, 204 and 304 have no body whatever their headers say", () => {
    expect(read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", { headOnly: true }).heads[0].body).toBe(BodyKind.None);
    expect(read("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").ends).toBe(1);
    expect(read("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n").ends).toBe(1);
  });

  test("a body without length runs to the close and the connection is not kept", () => {
    const r = read("HTTP/1.1 200 OK\r\n\r\nall of it", { close: true });
    expect(r.heads[0]).toMatchObject({ body: BodyKind.UntilClose, keepAlive: false });
    expect(r.body).toBe("all of it");
    expect(r.ends).toBe(1);
  });

  test("keep-alive follows the version and Connection", () => {
    expect(read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").heads[0].keepAlive).toBe(false);
    expect(read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").heads[0].keepAlive).toBe(false);
    expect(read("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").heads[0].keepAlive).toBe(true);
    // Transfer-Encoding and Content-Length together: chunked wins, the connection is not reused.
    const both = read("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    expect(both.body).toBe("ok");
    expect(both.heads[0].keepAlive).toBe(false);
  });

  test("a Content-Length beside Transfer-Encoding is not passed on", () => {
    const both = read("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nlonger\r\n0\r\n\r\n");
    expect(both.heads[0].headers).toEqual([["x-a", "b"], ["transfer-encoding", "chunked"]]);
    expect(both.body).toBe("longer");
  });

  test("header bytes past ASCII stay one character per byte", () => {
    const r = read("HTTP/1.1 200 OK\r\nX-Name: caf\xc3\xa9 \xe2\x98\x83\r\nContent-Length: 0\r\n\r\n");
    expect(r.heads[0].headers[0][1]).toBe("caf\xc3\xa9 \xe2\x98\x83");
  });

  test("bytes after a complete response are left unused", () => {
    const r = read("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
    expect(r.used).toBe("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".length);
  });

  test("refuses what it cannot frame with certainty", () => {
    const bad = [
      "HTTP/2 200\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded: no\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNo Colon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n",
    ];
    for (const wire of bad) expect(() => read(wire)).toThrow(MalformedResponse);
  });

  test("a head past 64 KiB, or a connection closed mid-response, is an error", () => {
    expect(() => read(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70_000)}`)).toThrow(/larger than 65536/);
    expect(() => read("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", { close: true })).toThrow(/before the response ended/);
    expect(() => read("", { close: true })).toThrow(/without answering/);
  });
});
