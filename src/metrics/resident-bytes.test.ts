import { expect, test } from "bun:test";
import process from "node:process";
import { residentBytes } from "./resident-bytes.ts";

test("residentBytes() keeps the last reading when memoryUsage fails", () => {
  const first = residentBytes();
  expect(first).toBeGreaterThan(0);
  const original = process.memoryUsage;
  try {
    process.memoryUsage = (() => {
      throw new Error("Failed to get memory usage");
    }) as unknown as typeof process.memoryUsage;
    expect(residentBytes()).toBe(first);
    process.memoryUsage = (() => ({ rss: 0 })) as unknown as typeof process.memoryUsage;
    expect(residentBytes()).toBe(first);
  } finally {
    process.memoryUsage = original;
  }
});
