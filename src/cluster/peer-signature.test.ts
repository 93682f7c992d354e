import { describe, expect, test } from "bun:test";
import { PeerSigner, SIGNATURE_MAX_AGE_MS, SIGNATURE_MAX_AHEAD_MS } from "./peer-signature.ts";

const request = { from: "a1", method: "POST", host: "demo.tunnel.example", target: "/hook?x=1", forwardedFor: "203.0.113.9" };

describe("PeerSigner", () => {
  test("a signature verifies for the same request under the same secret", () => {
    const a = PeerSigner.create("s3cret");
    const b = PeerSigner.create("s3cret");
    const signature = a.sign(request);
    expect(signature).toMatch(/^\d+\.[0-9a-f]{64}$/);
    expect(b.verify(signature, request)).toBe(true);
  });

  test("another secret, another field, or a time out of the window is refused", () => {
    const a = PeerSigner.create("s3cret");
    const other = PeerSigner.create("other");
    const now = Date.now();
    const signature = a.sign(request, now);
    expect(other.verify(signature, request, now)).toBe(false);
    for (
      const changed of [{ from: "b2" }, { method: "GET" }, { host: "evil.tunnel.example" }, { target: "/hook?x=2" }, {
        forwardedFor: "6.6.6.6",
      }]
    ) {
      expect(a.verify(signature, { ...request, ...changed }, now)).toBe(false);
    }
    // Too old, or too far ahead of the receiver's clock.
    expect(a.verify(signature, request, now + SIGNATURE_MAX_AGE_MS + 1)).toBe(false);
    expect(a.verify(signature, request, now + SIGNATURE_MAX_AGE_MS - 1)).toBe(true);
    expect(a.verify(signature, request, now - SIGNATURE_MAX_AHEAD_MS - 1)).toBe(false);
    expect(a.verify(signature, request, now - SIGNATURE_MAX_AHEAD_MS + 1)).toBe(true);
  });

  test("malformed values are refused without throwing", () => {
    const a = PeerSigner.create("s3cret");
    for (const bad of ["", "1", "x.y", `${Date.now()}.${"g".repeat(64)}`, `${Date.now()}.${"0".repeat(63)}`, "1".repeat(40) + "." + "0".repeat(64)]) {
      expect(a.verify(bad, request)).toBe(false);
    }
  });

  test("the key is not the session-token key: a session token does not pass as a signature", async () => {
    const { sessionToken } = await import("../entry/session-token.ts");
    const a = PeerSigner.create("s3cret");
    const now = Date.now();
    const message = `${now}\n${request.from}\n${request.method}\n${request.host}\n${request.target}\n${request.forwardedFor}`;
    expect(a.verify(`${now}.${await sessionToken("s3cret", message)}`, request, now)).toBe(false);
  });
});
