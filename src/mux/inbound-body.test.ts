import { describe, expect, test } from "bun:test";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { InboundBody } from "./inbound-body.ts";

const chunk = (n: number) => new Uint8Array(n);

describe("InboundBody()", () => {
  test("returns credit only as the reader consumes, once half the window is used", async () => {
    const credits: number[] = [];
    const body = new InboundBody({ window: 100, onCredit: (n) => credits.push(n), onCancel: () => {} });
    body.push(chunk(40));
    body.push(chunk(40));
    expect(credits).toEqual([]);
    expect(body.buffered).toBe(80);
    const reader = body.readable.getReader();
    expect((await reader.read()).value!.byteLength).toBe(40);
    expect(credits).toEqual([]);
    expect((await reader.read()).value!.byteLength).toBe(40);
    expect(credits).toEqual([80]);
    body.push(chunk(100)); // 20 left + 80 credited = 100 allowed
    expect(() => body.push(chunk(1))).toThrow(ProtocolError);
  });

  test("a window overrun is a protocol error", () => {
    const body = new InboundBody({ window: 10, onCredit: () => {}, onCancel: () => {} });
    expect(() => body.push(chunk(11))).toThrow(ProtocolError);
  });

  test("end() closes after the queued chunks; error() fails the reader", async () => {
    const body = new InboundBody({ window: 100, onCredit: () => {}, onCancel: () => {} });
    body.push(Uint8Array.of(1, 2));
    body.end();
    expect(new Uint8Array(await new Response(body.readable).arrayBuffer())).toEqual(Uint8Array.of(1, 2));

    const broken = new InboundBody({ window: 100, onCredit: () => {}, onCancel: () => {} });
    broken.push(Uint8Array.of(1));
    broken.error(new Error("reset"));
    await expect(new Response(broken.readable).arrayBuffer()).rejects.toThrow("reset");
  });

  test("onDone fires once, when the reader takes the end, meets the error or cancels", async () => {
    const done: string[] = [];
    const make = (name: string) => new InboundBody({ window: 100, onCredit: () => {}, onCancel: () => {}, onDone: () => done.push(name) });
    const ended = make("end");
    const reader = ended.readable.getReader();
    ended.push(Uint8Array.of(1));
    ended.end();
    expect((await reader.read()).done).toBe(false);
    expect(done).toEqual([]); // the end is taken only on the next read
    expect((await reader.read()).done).toBe(true);
    const failed = make("error");
    failed.error(new Error("reset"));
    await expect(new Response(failed.readable).arrayBuffer()).rejects.toThrow("reset");
    const cancelled = make("cancel");
    await cancelled.readable.cancel();
    await cancelled.readable.cancel();
    const whole = make("readAll");
    whole.end();
    await whole.readAll();
    expect(done).toEqual(["end", "error", "cancel", "readAll"]);
  });

  test("an ended body stays complete when the stream is reset later", async () => {
    const body = new InboundBody({ window: 100, onCredit: () => {}, onCancel: () => {} });
    body.push(Uint8Array.of(7));
    body.end();
    body.error(new Error("late reset"));
    expect(new Uint8Array(await new Response(body.readable).arrayBuffer())).toEqual(Uint8Array.of(7));
  });

  test("cancel by the reader is reported", async () => {
    let cancelled = false;
    const body = new InboundBody({ window: 100, onCredit: () => {}, onCancel: () => (cancelled = true) });
    await body.readable.cancel();
    expect(cancelled).toBe(true);
  });
});

describe("InboundBody() window growth", () => {
  test("a reader that keeps up gets a larger window; a stalled one never does", async () => {
    const credits: number[] = [];
    const body = new InboundBody({ window: 100, maxWindow: 400, onCredit: (n) => credits.push(n), onCancel: () => {} });
    const reader = body.readable.getReader();
    // Two fast rounds: the second credit comes within 20 ms of the first, so it carries growth.
    for (let round = 0; round < 3; round++) {
      body.push(new Uint8Array(50));
      await reader.read();
    }
    expect(credits[0]).toBe(50);
    expect(credits[1]).toBe(150); // 50 consumed + 100 growth: window 200
    expect(body.window).toBe(200);
    // The window is 200 and 50 bytes of it are in use: 150 more fit, not one byte beyond.
    body.push(new Uint8Array(150));
    expect(() => body.push(new Uint8Array(1))).toThrow();

    const stalled = new InboundBody({ window: 100, onCredit: (n) => credits.push(n), onCancel: () => {} });
    stalled.push(new Uint8Array(100));
    expect(stalled.window).toBe(100);
    expect(() => stalled.push(new Uint8Array(1))).toThrow();
  });
});
