import { describe, expect, test } from "bun:test";
import { carriesToken, isLoopback, ownHostNames, tokenCookie, tokenMatches } from "./inspector-access.ts";

describe("inspector access", () => {
  test("loopback is localhost, 127.0.0.0/8 and ::1; nothing else", () => {
    for (const name of ["localhost", "127.0.0.1", "127.0.0.2", "127.255.0.9", "::1"]) expect(isLoopback(name)).toBe(true);
    for (const name of ["0.0.0.0", "::", "192.168.1.5", "127.0.0.1.evil.example", "localhost.evil.example"]) expect(isLoopback(name)).toBe(false);
  });

  test("own Host names: loopback's and the listen address; on a wildcard the machine's names and addresses", () => {
    expect([...ownHostNames("192.168.1.5", ["ignored"])].sort()).toEqual(["127.0.0.1", "192.168.1.5", "[::1]", "localhost"]);
    expect(ownHostNames("0.0.0.0", ["Dev-Box", "10.0.0.7", "fe80::1"])).toEqual(new Set(["localhost", "127.0.0.1", "[::1]", "dev-box", "10.0.0.7", "[fe80::1]"]));
    expect(ownHostNames("::", []).has("attacker.example")).toBe(false);
  });

  test("the token: as Bearer or this port's cookie, and nothing close to it", () => {
    const token = "ab".repeat(16);
    const TOKEN_COOKIE = tokenCookie("127.0.0.1:4040");
    expect([TOKEN_COOKIE, tokenCookie("[::1]:4041")]).toEqual(["tunnel2_inspector_4040", "tunnel2_inspector_4041"]);
    const request = (headers: Record<string, string>) => new Request("http://127.0.0.1:4040/api/requests", { headers });
    expect(carriesToken(request({ authorization: `Bearer ${token}` }), token, TOKEN_COOKIE)).toBe(true);
    expect(carriesToken(request({ cookie: `a=1; ${TOKEN_COOKIE}=${token}` }), token, TOKEN_COOKIE)).toBe(true);
    expect(carriesToken(request({ authorization: `Bearer ${token.slice(1)}` }), token, TOKEN_COOKIE)).toBe(false);
    expect(carriesToken(request({ cookie: `${TOKEN_COOKIE}x=${token}` }), token, TOKEN_COOKIE)).toBe(false);
    expect(carriesToken(request({ authorization: `Basic ${token}` }), token, TOKEN_COOKIE)).toBe(false);
    expect(carriesToken(request({}), token, TOKEN_COOKIE)).toBe(false);
    expect(carriesToken(request({ cookie: `tunnel2_inspector_4041=${token}` }), token, TOKEN_COOKIE)).toBe(false);
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(undefined, token)).toBe(false);
    expect(tokenMatches(`${token}0`, token)).toBe(false);
  });
});
