import { describe, expect, test } from "bun:test";
import { framedRequestHeaders, targetUrl } from "./forwarder.ts";

describe("targetUrl()", () => {
  const base = new URL("http://127.0.0.1:3000/base/");

  test("puts the request's path and query under the base path, as sent", () => {
    expect(targetUrl(base, "/a%2Fb?q=%20x")).toBe("http://127.0.0.1:3000/base/a%2Fb?q=%20x");
    expect(targetUrl(new URL("http://127.0.0.1:3000"), "/x/../y")).toBe("http://127.0.0.1:3000/x/../y");
  });

  test("dot segments never climb out of the base path", () => {
    for (const path of ["/../secret", "/%2e%2e/secret", "/%2E%2E/%2e%2e/secret", "/a/../../secret", "/./../secret"]) {
      const url = new URL(targetUrl(base, path));
      expect(url.pathname).toBe("/base/secret");
    }
    expect(new URL(targetUrl(base, "/a/../b?x=1")).href).toBe("http://127.0.0.1:3000/base/b?x=1");
  });
});

describe("framedRequestHeaders()", () => {
  test("no body: no Content-Length but 0, never Transfer-Encoding", () => {
    expect(framedRequestHeaders([["content-length", "40"], ["x-a", "1"], ["transfer-encoding", "chunked"]], false)).toEqual([["x-a", "1"]]);
    expect(framedRequestHeaders([["content-length", "0"]], false)).toEqual([["content-length", "0"]]);
  });

  test("a body keeps its one Content-Length; the same list comes back when nothing changes", () => {
    const headers: [string, string][] = [["content-length", "5"], ["x-a", "1"]];
    expect(framedRequestHeaders(headers, true)).toBe(headers);
  });

  test("lengths that make no sense are refused", () => {
    expect(typeof framedRequestHeaders([["content-length", "5"], ["Content-Length", "6"]], true)).toBe("string");
    expect(typeof framedRequestHeaders([["content-length", "5, 5"]], true)).toBe("string");
    expect(typeof framedRequestHeaders([["content-length", "-1"]], true)).toBe("string");
  });
});
