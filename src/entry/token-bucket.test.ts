import { describe, expect, test } from "bun:test";
import { TokenBucket } from "./token-bucket.ts";

describe("TokenBucket()", () => {
  test("allows the burst, then the rate", () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0]);
    expect(bucket.take(0)).toBeCloseTo(0.1);
    expect(bucket.take(50)).toBeCloseTo(0.05);
    expect(bucket.take(100)).toBe(0);
    expect(bucket.remaining(100)).toBe(0);
  });

  test("refills up to the burst only", () => {
    const bucket = new TokenBucket(100, 5, 0);
    for (let i = 0; i < 5; i++) bucket.take(0);
    expect(bucket.full(0)).toBe(false);
    expect(bucket.remaining(10_000)).toBe(5);
    expect(bucket.full(10_000)).toBe(true);
  });

  test("over a second admits rate + burst", () => {
    const bucket = new TokenBucket(20, 10, 0);
    let admitted = 0;
    for (let t = 0; t <= 1000; t += 1) if (bucket.take(t) === 0) admitted++;
    expect(admitted).toBe(30);
  });
});
