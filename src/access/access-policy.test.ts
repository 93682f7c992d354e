import { describe, expect, test } from "bun:test";
import { AccessPolicy } from "./access-policy.ts";
import { readAccessRules, ruleLines, summarize } from "./access-rules.ts";
import { PolicyFloor } from "./policy-floor.ts";

describe("readAccessRules()", () => {
  test("takes the five rules and refuses anything half-understood", () => {
    const rules = {
      basicAuth: ["alice:pw"],
      allowIp: ["203.0.113.0/24", "2001:db8::/32"],
      denyIp: ["203.0.113.9"],
      webhook: { provider: "github", secret: "s" },
      oidcAllow: ["*@acme.com"],
    };
    expect(readAccessRules(rules)).toEqual(rules);
    expect(() => readAccessRules({ basicAuth: ["alice:pw"], allowIPs: [] })).toThrow('access rules: unknown rule "allowIPs"');
    expect(() => readAccessRules({ allowIp: "10.0.0.0/8" })).toThrow("allow-ip: expected a list");
    expect(() => readAccessRules({ allowIp: [] })).toThrow("allow-ip: the list is empty");
    expect(() => readAccessRules({ denyIp: ["10.0.0.0/8", "ten"] })).toThrow('deny-ip: "ten" is not an IP address or CIDR range');
    expect(() => readAccessRules({ basicAuth: ["alice"] })).toThrow("basic-auth: expected USER:PASSWORD");
    expect(() => readAccessRules({ webhook: { provider: "gitlab", secret: "s" } })).toThrow('"gitlab" is not a webhook provider');
    expect(() => readAccessRules({ webhook: { provider: "github", secret: "" } })).toThrow("verify-webhook: the secret must be 1-512 characters");
    expect(() => readAccessRules({ oidcAllow: ["alice"] })).toThrow('oidc-allow: "alice" is not an email address or *@domain');
    expect(() => readAccessRules({ allowIp: new Array(257).fill("10.0.0.1") })).toThrow("allow-ip: 257 items, at most 256");
    expect(() => readAccessRules([])).toThrow("access rules: expected an object");
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(() => readAccessRules(JSON.parse(`{"${key}":["x"]}`))).toThrow(`access rules: unknown rule "${key}"`);
    }
  });

  test("summaries and printed lines never hold a secret", () => {
    const rules = readAccessRules({ basicAuth: ["alice:pw1", "bob:pw2"], webhook: { provider: "stripe", secret: "whsec_x" }, allowIp: ["10.0.0.0/8"] });
    const summary = JSON.stringify(summarize(rules)) + ruleLines(rules).join("\n");
    expect(summary).not.toContain("pw1");
    expect(summary).not.toContain("whsec_x");
    expect(summarize(rules)).toEqual({ basicAuth: { users: ["alice", "bob"] }, allowIp: ["10.0.0.0/8"], webhook: "stripe" });
    expect(ruleLines(rules)).toEqual(["basic auth: users alice, bob", "allow only from: 10.0.0.0/8", "webhook signatures: stripe"]);
  });
});

describe("AccessPolicy", () => {
  test("no rules anywhere: no policy, so such sessions pay nothing", () => {
    expect(AccessPolicy.compile("demo", undefined, undefined)).toBeUndefined();
    expect(AccessPolicy.compile("demo", {}, { rules: {}, require: [] })).toBeUndefined();
  });

  test("the same rules are told apart from changed ones, a changed password included, though summaries hide it", () => {
    const policy = (pair: string) => AccessPolicy.compile("s", { basicAuth: [pair], allowIp: ["10.0.0.0/8"] }, undefined)!;
    expect(policy("alice:pw").sameOwnRules(policy("alice:pw"))).toBe(true);
    expect(policy("alice:pw").own).toEqual(policy("alice:other").own);
    expect(policy("alice:pw").sameOwnRules(policy("alice:other"))).toBe(false);
    expect(policy("alice:pw").sameOwnRules(undefined)).toBe(false);
  });

  test("deny wins over allow; an allow list keeps out everyone else", () => {
    const policy = AccessPolicy.compile("demo", { allowIp: ["203.0.113.0/24"], denyIp: ["203.0.113.9"] }, undefined)!;
    expect(policy.addressRefusal("203.0.113.8")).toBeUndefined();
    expect(policy.addressRefusal("::ffff:203.0.113.8")).toBeUndefined();
    expect(policy.addressRefusal("203.0.113.9")).toBe("ip_deny");
    expect(policy.addressRefusal("198.51.100.1")).toBe("ip_allow");
    expect(policy.addressRefusal("not an address")).toBe("ip_allow");
    // Asked again and in turn (the last answer is kept): the same answers.
    for (const [address, refusal] of [["203.0.113.9", "ip_deny"], ["203.0.113.9", "ip_deny"], ["203.0.113.8", undefined], ["203.0.113.8", undefined], ["198.51.100.1", "ip_allow"]]) {
      expect({ address, refusal: policy.addressRefusal(address!) }).toEqual({ address, refusal });
    }
  });

  test("the floor holds whatever the tunnel asks: a tunnel narrows it, never widens it", () => {
    const floor = { rules: { allowIp: ["10.0.0.0/8"], denyIp: ["10.9.0.0/16"] }, require: [] };
    // The tunnel allows the whole internet; the floor still keeps out what is not 10/8.
    const wide = AccessPolicy.compile("demo", { allowIp: ["0.0.0.0/0"] }, floor)!;
    expect(wide.addressRefusal("198.51.100.1")).toBe("ip_allow");
    expect(wide.addressRefusal("10.1.2.3")).toBeUndefined();
    expect(wide.addressRefusal("10.9.1.1")).toBe("ip_deny");
    // The tunnel narrows to one /24 inside it.
    const narrow = AccessPolicy.compile("demo", { allowIp: ["10.1.2.0/24"] }, floor)!;
    expect(narrow.addressRefusal("10.1.3.1")).toBe("ip_allow");
    expect(narrow.addressRefusal("10.1.2.1")).toBeUndefined();
    // A tunnel without rules gets the floor alone.
    expect(AccessPolicy.compile("demo", undefined, floor)!.addressRefusal("198.51.100.1")).toBe("ip_allow");
    expect(wide.floor).toEqual({ allowIp: ["10.0.0.0/8"], denyIp: ["10.9.0.0/16"] });
  });

  test("sign-on lists from both must match; a required rule the tunnel lacks refuses it", () => {
    const policy = AccessPolicy.compile("demo", { oidcAllow: ["alice@acme.com"] }, { rules: { oidcAllow: ["*@acme.com"] }, require: [] })!;
    expect(policy.oidcAllow).toEqual([["alice@acme.com"], ["*@acme.com"]]);
    expect(() => AccessPolicy.compile("hooks", { allowIp: ["10.0.0.1"] }, { rules: {}, require: ["webhook"] }))
      .toThrow("this entry requires --verify-webhook for session hooks");
    expect(AccessPolicy.compile("hooks", { webhook: { provider: "github", secret: "s" } }, { rules: {}, require: ["webhook"] })?.webhook).toBeDefined();
  });
});

describe("PolicyFloor", () => {
  const floor = PolicyFloor.parse(JSON.stringify({
    sessions: { "*": { oidcAllow: ["*@acme.com"] }, hooks: { require: ["webhook"], denyIp: ["192.0.2.0/24"] } },
  }));

  test("a session listed by name gets its entry, the others '*'", () => {
    expect(floor.floorFor("hooks")).toEqual({ rules: { denyIp: ["192.0.2.0/24"] }, require: ["webhook"] });
    expect(floor.floorFor("anything")).toEqual({ rules: { oidcAllow: ["*@acme.com"] }, require: [] });
    expect(PolicyFloor.parse('{"sessions":{"a":{}}}').floorFor("b")).toBeUndefined();
  });

  test("what is wrong is named", () => {
    expect(() => PolicyFloor.parse("{")).toThrow("TUNNEL_POLICY is not valid JSON");
    expect(() => PolicyFloor.parse("{}")).toThrow('TUNNEL_POLICY needs a "sessions" object');
    expect(() => PolicyFloor.parse('{"sessions":{"Bad_Name":{}}}')).toThrow('TUNNEL_POLICY: "Bad_Name" is not a session name or "*"');
    expect(() => PolicyFloor.parse('{"sessions":{"*":{"basicAuth":["a:b"]}}}')).toThrow("basic auth and webhook secrets belong to the tunnel");
    expect(() => PolicyFloor.parse('{"sessions":{"*":{"require":["everything"]}}}')).toThrow('"require" lists rules among basicAuth, webhook, allowIp, oidcAllow');
    expect(() => PolicyFloor.parse('{"sessions":{"*":{"allowIp":["x"]}}}')).toThrow('TUNNEL_POLICY: session *: allow-ip: "x" is not an IP address');
  });
});
