import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { SessionTokenVerifier, sessionToken } from "./session-token.ts";

describe("sessionToken() / SessionTokenVerifier()", () => {
  test("is HMAC-SHA256(secret, session) in lowercase hex", async () => {
    const expected = createHmac("sha256", "s3cret").update("myapp").digest("hex");
    expect(await sessionToken("s3cret", "myapp")).toBe(expected);
  });

  test("verifies the right token and nothing else", async () => {
    const verifier = new SessionTokenVerifier("s3cret");
    const token = await sessionToken("s3cret", "myapp");
    expect(await verifier.verify("myapp", token)).toBe(true);
    expect(await verifier.verify("other", token)).toBe(false);
    expect(await verifier.verify("myapp", await sessionToken("other-secret", "myapp"))).toBe(false);
    expect(await verifier.verify("myapp", token.toUpperCase())).toBe(false);
    expect(await verifier.verify("myapp", token.slice(1))).toBe(false);
    expect(await verifier.verify("myapp", "")).toBe(false);
  });
});
