import { describe, expect, test } from "bun:test";
import { sessionFromHost } from "./entry-app.ts";

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
});
