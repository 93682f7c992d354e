import { describe, expect, test } from "bun:test";
import { hostName, isValidHost, sessionFromHost } from "./host.ts";

describe("sessionFromHost()", () => {
  test("finds the session label, with or without a port", () => {
    expect(sessionFromHost("demo.localhost:8080", "localhost")).toBe("demo");
    expect(sessionFromHost("Demo.Tunnel.Example.com", "tunnel.example.com")).toBe("demo");
  });

  test("anything else is the control plane", () => {
    for (const host of [null, "localhost:8080", "127.0.0.1:8080", "a.b.localhost", "xlocalhost", "bad_name.localhost", "[::1]:8080"]) {
      expect(sessionFromHost(host, "localhost")).toBeUndefined();
    }
  });

  test("a Host with anything after the name but a numeric port names no session", () => {
    for (const host of ["demo.localhost:80@evil.com", "demo.localhost:80/evil.com", "demo.localhost:x evil.com", 'demo.localhost:"><script>', "demo.localhost:", "demo.localhost:123456"]) {
      expect(sessionFromHost(host, "localhost")).toBeUndefined();
    }
  });
});

describe("isValidHost()", () => {
  test("accepts names, IP literals and numeric ports", () => {
    for (const host of ["demo.localhost", "demo.localhost:8080", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:8080", "my_host.internal"]) {
      expect(isValidHost(host)).toBe(true);
    }
  });

  test("refuses userinfo, paths, spaces, quotes, empty and non-numeric ports", () => {
    for (const host of ["", "a@b", "a:80@evil.com", "a:80/evil", "a:x evil", "a b", 'a"', "a:", "a:80:81", "[::1", "a.b:-1", "<script>"]) {
      expect(isValidHost(host)).toBe(false);
    }
  });

  test("hostName() lowercases and drops the port", () => {
    expect(hostName("Demo.Localhost:8080")).toBe("demo.localhost");
    expect(hostName("[::1]:8080")).toBe("[::1]");
  });
});
