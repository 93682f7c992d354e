import { describe, expect, test } from "bun:test";
import { backoffDelay } from "./backoff.ts";

describe("backoffDelay()", () => {
  test("doubles its ceiling from 500 ms up to the 30 s cap", () => {
    const top = (attempt: number) => backoffDelay(attempt, { random: () => 0.999999 });
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map(top)).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]);
  });

  test("full jitter: uniform from zero", () => {
    expect(backoffDelay(5, { random: () => 0 })).toBe(0);
    expect(backoffDelay(5, { random: () => 0.5 })).toBe(8000);
  });
});
