import { describe, expect, test } from "bun:test";
import { BasicAuthCheck, credentialProblem } from "./basic-auth.ts";
import { constantTimeEqual } from "./constant-time.ts";

const basic = (pair: string) => `Basic ${btoa(pair)}`;

describe("BasicAuthCheck", () => {
  const check = new BasicAuthCheck(["alice:s3cret", "bob:pa:ss"]);

  test("lets in any of its pairs, and only them", () => {
    expect(check.allows(basic("alice:s3cret"))).toBe(true);
    expect(check.allows(basic("bob:pa:ss"))).toBe(true);
    expect(check.allows(`basic  ${btoa("alice:s3cret")}`)).toBe(true);
    for (const wrong of ["alice:s3cre", "alice:s3cret2", "bob:pa", "carol:s3cret", "alice", ""]) {
      expect({ wrong, allowed: check.allows(basic(wrong)) }).toEqual({ wrong, allowed: false });
    }
  });

  test("anything but a Basic header is no credentials", () => {
    for (const header of [null, "", "Bearer abc", "Basic", "Basic !!!", "Basic YWxpY2U6czNjcmV0 x", `Digest ${btoa("alice:s3cret")}`]) {
      expect({ header, allowed: check.allows(header) }).toEqual({ header, allowed: false });
    }
  });

  test("UTF-8 passwords compare by their bytes", () => {
    const utf8 = new BasicAuthCheck(["zoë:pässwörd"]);
    const bytes = new TextEncoder().encode("zoë:pässwörd");
    expect(utf8.allows(`Basic ${btoa(String.fromCharCode(...bytes))}`)).toBe(true);
    expect(utf8.users).toEqual(["zoë"]);
  });

  test("constantTimeEqual() compares every byte and the lengths", () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
  });

  test("credentialProblem() names what is wrong without the password", () => {
    expect(credentialProblem("alice:pw")).toBeUndefined();
    expect(credentialProblem("alice")).toBe("expected USER:PASSWORD with a non-empty user");
    expect(credentialProblem(":pw")).toBe("expected USER:PASSWORD with a non-empty user");
    expect(credentialProblem("alice:")).toBe('the password of user "alice" is empty');
    expect(credentialProblem("alice:p\nw")).toBe("control characters are not allowed");
  });
});
