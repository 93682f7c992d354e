import { describe, expect, test } from "bun:test";
import { parseTiers } from "../config/tiers.ts";
import { RateLimits } from "./rate-limits.ts";

const tiers = parseTiers(JSON.stringify({
  tiers: { free: { rps: 10, burst: 2 }, pro: { rps: 100 }, unlimited: { rps: null } },
  sessions: { acme: "pro", internal: "unlimited", "*": "free" },
}));

describe("RateLimits", () => {
  test("nothing configured: no limiter at all", () => {
    expect(RateLimits.create(undefined, undefined)).toBeUndefined();
  });

  test("session tier, then the * tier; unlimited tiers pass", () => {
    const limits = RateLimits.create(undefined, tiers)!;
    expect(limits.tierOf("acme")?.rps).toBe(100);
    expect(limits.tierOf("someone")?.rps).toBe(10);
    expect(limits.tierOf("internal")).toBeUndefined();
    expect([limits.check("someone", 0), limits.check("someone", 0)]).toEqual([undefined, undefined]);
    expect(limits.check("someone", 0)).toEqual({ limit: 10, retryAfter: 0.1 });
    for (let i = 0; i < 1000; i++) expect(limits.check("internal", 0)).toBeUndefined();
  });

  test("the global rate applies to sessions without a tier", () => {
    const limits = RateLimits.create({ rps: 5, burst: 1 }, undefined)!;
    expect(limits.check("a", 0)).toBeUndefined();
    expect(limits.check("a", 0)?.retryAfter).toBeCloseTo(0.2);
    expect(limits.check("b", 0)).toBeUndefined();
  });

  test("a fresh limiter admits exactly its burst (the first check's sweep keeps the bucket it made)", () => {
    const limits = RateLimits.create({ rps: 10, burst: 10 }, undefined)!;
    const now = 1_000_000;
    let admitted = 0;
    for (let i = 0; i < 15; i++) if (limits.check("demo", now) === undefined) admitted++;
    expect(admitted).toBe(10);
  });
});
