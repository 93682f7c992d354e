import { describe, expect, test } from "bun:test";
import { ConcurrencyLimiter } from "./concurrency-limiter.ts";

describe("ConcurrencyLimiter()", () => {
  test("holds at most the limit; the rest wait in order", async () => {
    const limiter = new ConcurrencyLimiter(2);
    const order: number[] = [];
    const releases = await Promise.all([limiter.acquire(), limiter.acquire()]);
    const waiting = [3, 4].map((n) => limiter.acquire().then((release) => (order.push(n), release)));
    await Promise.resolve();
    expect(limiter.active).toBe(2);
    expect(limiter.waiting).toBe(2);
    releases[0]();
    releases[0](); // a second release of the same slot is ignored
    const third = await waiting[0];
    expect(order).toEqual([3]);
    expect(limiter.active).toBe(2);
    releases[1]();
    third();
    (await waiting[1])();
    expect(order).toEqual([3, 4]);
    expect(limiter.active).toBe(0);
  });
});
