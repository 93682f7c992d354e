import { describe, expect, test } from "bun:test";
import { scopeCookies } from "./cookie-scope.ts";

describe("scopeCookies()", () => {
  const host = "demo.localhost";

  test("removes a Domain that reaches the tunnel domain or another session", () => {
    const out = scopeCookies([
      ["set-cookie", "sid=1; Domain=localhost; Path=/; HttpOnly"],
      ["set-cookie", "b=2; domain=.LOCALHOST"],
      ["set-cookie", "c=3; Domain=other.localhost; Secure"],
    ], host);
    expect(out).toEqual([
      ["set-cookie", "sid=1; Path=/; HttpOnly"],
      ["set-cookie", "b=2"],
      ["set-cookie", "c=3; Secure"],
    ]);
  });

  test("keeps a Domain of the session's host or below it, and other headers", () => {
    const headers: [string, string][] = [
      ["set-cookie", "a=1; Domain=demo.localhost"],
      ["set-cookie", "b=2; Domain=.Demo.Localhost; Path=/"],
      ["set-cookie", "c=3; Domain=api.demo.localhost"],
      ["set-cookie", "d=domain; Path=/"],
      ["x-domain", "Domain=localhost"],
    ];
    expect(scopeCookies(headers, host)).toEqual(headers);
  });
});
