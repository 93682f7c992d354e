import { describe, expect, test } from "bun:test";
import { Histogram } from "./histogram.ts";

describe("Histogram()", () => {
  test("buckets observations and estimates quantiles within a bucket", () => {
    const h = new Histogram([10, 20, 40]);
    for (let i = 1; i <= 10; i++) h.observe(i); // all in ≤10
    for (let i = 0; i < 10; i++) h.observe(15); // ≤20
    h.observe(1000); // +Inf
    expect(h.counts).toEqual([10, 10, 0, 1]);
    expect(h.count).toBe(21);
    expect(h.sum).toBe(55 + 150 + 1000);
    expect(h.quantile(0.25)).toBeCloseTo(5.25);
    expect(h.quantile(0.75)).toBeGreaterThan(10);
    expect(h.quantile(0.75)).toBeLessThanOrEqual(20);
    expect(new Histogram().quantile(0.5)).toBeNaN();
  });

  test("an estimate never goes beyond what was observed: 300 ms answers never read as a p99 of 480", () => {
    const h = new Histogram();
    for (let i = 0; i < 99; i++) h.observe(0.7);
    h.observe(301);
    expect(h.quantile(0.999)).toBe(301);
    const one = new Histogram();
    one.observe(5.3);
    expect([one.quantile(0.5), one.quantile(0.99)]).toEqual([5.3, 5.3]);
    const merged = new Histogram();
    merged.add(h);
    expect(merged.quantile(0.999)).toBe(301);
  });

  test("add() merges counts", () => {
    const a = new Histogram([1, 2]);
    const b = new Histogram([1, 2]);
    a.observe(1);
    b.observe(2);
    a.add(b);
    expect(a.counts).toEqual([1, 1, 0]);
  });

  test("since() is what was observed after a copy", () => {
    const h = new Histogram([1, 2]);
    h.observe(1);
    const before = h.copy();
    h.observe(2);
    h.observe(5);
    const delta = h.since(before);
    expect(delta.counts).toEqual([0, 1, 1]);
    expect(delta.count).toBe(2);
    expect(delta.sum).toBe(7);
    expect(before.count).toBe(1);
  });
});
