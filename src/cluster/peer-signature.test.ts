import { describe, expect, test } from "bun:test";
import { PeerSigner, SIGNATURE_WINDOW_MS } from "./peer-signature.ts";

const request = { from: "a1", method: "POST", host: "demo.tunnel.example", target: "/hook?x=1" };

describe("PeerSigner", () => {
  test("a signature verifies for the same request under the same secret", async () => {
    const a = await PeerSigner.create("s3cret");
    const b = await PeerSigner.create("s3cret");
    const signature = await a.sign(request);
    expect(signature).toMatch(/^\d+\.[0-9a-f]{64}$/);
    expect(await b.verify(signature, request)).toBe(true);
  });

  test("another secret, another field, or an old time is refused", async () => {
    const a = await PeerSigner.create("s3cret");
    const other = await PeerSigner.create("other");
    const now = Date.now();
    const signature = await a.sign(request, now);
    expect(await other.verify(signature, request, now)).toBe(false);
    for (const changed of [{ from: "b2" }, { method: "GET" }, { host: "evil.tunnel.example" }, { target: "/hook?x=2" }]) {
      expect(await a.verify(signature, { ...request, ...changed }, now)).toBe(false);
    }
    expect(await a.verify(signature, request, now + SIGNATURE_WINDOW_MS + 1)).toBe(false);
    expect(await a.verify(signature, request, now - SIGNATURE_WINDOW_MS - 1)).toBe(false);
    expect(await a.verify(signature, request, now + SIGNATURE_WINDOW_MS - 1)).toBe(true);
  });

  test("malformed values are refused without throwing", async () => {
    const a = await PeerSigner.create("s3cret");
    for (const bad of ["", "1", "x.y", `${Date.now()}.${"g".repeat(64)}`, `${Date.now()}.${"0".repeat(63)}`, "1".repeat(40) + "." + "0".repeat(64)]) {
      expect(await a.verify(bad, request)).toBe(false);
    }
  });

  test("the key is not the session-token key: a session token does not pass as a signature", async () => {
    const { sessionToken } = await import("../entry/session-token.ts");
    const a = await PeerSigner.create("s3cret");
    const now = Date.now();
    const forged = `${now}.${await sessionToken("s3cret", `${now}\n${request.from}\n${request.method}\n${request.host}\n${request.target}`)}`;
    expect(await a.verify(forged, request, now)).toBe(false);
  });
});
