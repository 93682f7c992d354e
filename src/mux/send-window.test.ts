import { describe, expect, test } from "bun:test";
import { SendWindow } from "./send-window.ts";

describe("SendWindow()", () => {
  test("takes at most what is available and waits at zero", async () => {
    const window = new SendWindow(100);
    expect(await window.take(60)).toBe(60);
    expect(await window.take(60)).toBe(40);
    let got = 0;
    const waiting = window.take(50).then((n) => (got = n));
    await Promise.resolve();
    expect(got).toBe(0);
    expect(window.stalls).toBe(1);
    window.grant(30);
    await waiting;
    expect(got).toBe(30);
  });

  test("fail() rejects the waiting sender", async () => {
    const window = new SendWindow(0);
    const waiting = window.take(1);
    window.fail(new Error("reset"));
    await expect(waiting).rejects.toThrow("reset");
    await expect(window.take(1)).rejects.toThrow("reset");
  });
});
