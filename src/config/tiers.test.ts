import { describe, expect, test } from "bun:test";
import { parseTiers } from "./tiers.ts";

const tiers = parseTiers(JSON.stringify({
  tiers: { free: { rps: 10, burst: 2 }, pro: { rps: 100 }, unlimited: { rps: null } },
  sessions: { acme: "pro", internal: "unlimited", "*": "free" },
}));

describe("parseTiers()", () => {
  test("fills burst defaults", () => {
    expect(tiers.tiers.pro).toEqual({ rps: 100, burst: 100 });
    expect(tiers.tiers.unlimited.rps).toBeNull();
  });

  test("explains what is wrong", () => {
    expect(() => parseTiers("{")).toThrow("not valid JSON");
    expect(() => parseTiers("{}")).toThrow('"tiers"');
    expect(() => parseTiers('{"tiers":{"a":{"rps":-1}}}')).toThrow('tier "a"');
    expect(() => parseTiers('{"tiers":{"a":{"rps":1}},"sessions":{"x":"b"}}')).toThrow('unknown tier "b"');
  });
});
