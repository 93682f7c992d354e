import { describe, expect, test } from "bun:test";
import { FrameKind } from "../protocol/constants.ts";
import { decodeFrameAt, encodeFrame } from "../protocol/frame.ts";
import type { FrameSocket } from "./frame-socket.ts";
import { CONTROL_FRAME_COST, FrameWriter, MAX_CONTROL_QUEUE_COST, PeerNotReadingError, WAIT_SAMPLE_EVERY } from "./frame-writer.ts";

/** A socket that models Bun's server socket: -1 under backpressure, drops past a limit. */
class SlowSocket implements FrameSocket {
  received: number[] = [];
  messages = 0;
  buffered = 0;
  dropped = 0;
  maxBuffered = 0;
  #drain: PromiseWithResolvers<void> | undefined;
  constructor(readonly highWater: number, readonly limit: number, readonly bytesPerTick: number) {
    const timer = setInterval(() => {
      this.buffered = Math.max(0, this.buffered - this.bytesPerTick);
      if (this.buffered < this.highWater) {
        this.#drain?.resolve();
        this.#drain = undefined;
      }
    }, 1);
    (timer as { unref?: () => void }).unref?.();
  }
  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.buffered + frame.byteLength > this.limit) {
      this.dropped++;
      throw new Error("dropped");
    }
    this.buffered += frame.byteLength;
    this.maxBuffered = Math.max(this.maxBuffered, this.buffered);
    this.messages++;
    for (let offset = 0; offset < frame.byteLength;) {
      const f = decodeFrameAt(frame, offset);
      this.received.push(f.streamId - 1);
      offset = f.end;
    }
    return this.buffered < this.highWater;
  }
  drained(): Promise<void> {
    if (this.buffered < this.highWater) return Promise.resolve();
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }
  close(): void {}
}

/** A data frame whose stream id carries the number n (+1: stream 0 is not for data). */
const numbered = (n: number, size = 4) => encodeFrame(FrameKind.Data, 0, n + 1, new Uint8Array(size));

describe("FrameWriter()", () => {
  test("keeps FIFO order with 1000 concurrent producers", async () => {
    const socket = new SlowSocket(1 << 30, 1 << 30, 1 << 30);
    const writer = new FrameWriter(socket, (err) => { throw err; });
    await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      for (let j = 0; j < 10; j++) {
        if (j % 2) writer.send(numbered(i * 10 + j));
        else await writer.sendData(numbered(i * 10 + j));
      }
    }));
    await new Promise((r) => setTimeout(r, 10));
    expect(socket.received.length).toBe(10_000);
    // Frames queued together went out together.
    expect(socket.messages).toBeLessThan(10_000);
    expect(writer.frames).toBe(10_000);
    // Each producer's own frames arrive in the order it wrote them.
    const last = new Map<number, number>();
    for (const n of socket.received) {
      const producer = Math.floor(n / 10);
      expect(n).toBeGreaterThan(last.get(producer) ?? -1);
      last.set(producer, n);
    }
  });

  test("applies backpressure: a slow socket bounds the queue and loses no frame", async () => {
    // 64 KiB frames into a socket draining 64 KiB per ms that drops past 4 MiB, like Bun's limit.
    const socket = new SlowSocket(1 << 20, 4 << 20, 64 << 10);
    const writer = new FrameWriter(socket, (err) => { throw err; }, { highWaterMark: 512 << 10 });
    let maxQueued = 0;
    const frames = 400; // 25 MiB through a 4 MiB limit
    await Promise.all(Array.from({ length: 8 }, async (_, p) => {
      for (let i = p; i < frames; i += 8) {
        await writer.sendData(numbered(i, (64 << 10) - 12));
        maxQueued = Math.max(maxQueued, writer.queuedBytes);
      }
    }));
    while (socket.received.length < frames) await new Promise((r) => setTimeout(r, 2));
    expect(socket.dropped).toBe(0);
    expect(new Set(socket.received).size).toBe(frames);
    expect(socket.maxBuffered).toBeLessThan(4 << 20);
    // Each producer overshoots the mark by at most one frame.
    expect(maxQueued).toBeLessThanOrEqual((512 << 10) + 8 * (64 << 10));
  });

  test("fails waiting producers once aborted", async () => {
    const socket = new SlowSocket(1, 1 << 30, 0);
    const writer = new FrameWriter(socket, () => {}, { highWaterMark: 4 });
    await writer.sendData(numbered(1, 64));
    const waiting = writer.sendData(numbered(2, 64));
    writer.abort(new Error("gone"));
    await expect(waiting).rejects.toThrow("gone");
  });

  test("times the queue wait of one frame in WAIT_SAMPLE_EVERY", async () => {
    const waits: number[] = [];
    // The socket is full after the first frame and drains 40 ms after each wait: the frames queued behind it wait.
    let full = true;
    const socket: FrameSocket = {
      send: () => !full,
      drained: () => new Promise<void>((resolve) => setTimeout(() => {
        full = false;
        resolve();
      }, 40)),
      close() {},
    };
    const writer = new FrameWriter(socket, () => {}, { onWait: (ms) => waits.push(ms) });
    const frame = encodeFrame(FrameKind.Data, 0, 1, new Uint8Array(10));
    writer.send(frame);
    await new Promise((r) => setTimeout(r, 5)); // taken: the writer now waits for the socket to drain
    const queuedAt = performance.now();
    for (let i = 1; i < WAIT_SAMPLE_EVERY * 3; i++) writer.send(frame);
    for (let i = 0; i < 100 && waits.length < 3; i++) await new Promise((r) => setTimeout(r, 5));
    const drainedAfter = performance.now() - queuedAt;
    expect(waits.length).toBe(3);
    // Frame 0 went at once; frames 16 and 32 were queued behind the full socket until it drained.
    expect(waits[0]).toBeLessThan(waits[1]);
    expect(Math.min(waits[1], waits[2])).toBeGreaterThanOrEqual(25);
    expect(Math.max(waits[1], waits[2])).toBeLessThanOrEqual(drainedAfter);
  });

  test("DATA frames queued with send() (small whole bodies) never count as unread control frames", async () => {
    const socket = new SlowSocket(1 << 20, 1 << 30, 1 << 20);
    let failure: Error | undefined;
    const writer = new FrameWriter(socket, (err) => (failure = err));
    const frame = encodeFrame(FrameKind.Data, 0, 1, new Uint8Array(200));
    // Far more than MAX_CONTROL_QUEUE_COST worth over time, each taken by the socket: a busy tunnel's day.
    const total = Math.ceil(MAX_CONTROL_QUEUE_COST / (frame.byteLength + CONTROL_FRAME_COST)) * 3;
    for (let i = 0; i < total; i++) {
      writer.send(frame);
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(failure).toBeUndefined();
    expect(socket.received.length).toBe(total);
  });

  test("a peer that does not read: control frames are bounded, then the writer fails", async () => {
    // A socket that takes one message and then never drains.
    const stuck: FrameSocket = { send: () => false, drained: () => new Promise(() => {}), close() {} };
    let failure: Error | undefined;
    const writer = new FrameWriter(stuck, (err) => (failure = err));
    const ping = encodeFrame(FrameKind.Ping, 0x2, 0, new Uint8Array(8));
    let sent = 0;
    while (!failure && sent < 1_000_000) {
      writer.send(ping);
      sent++;
      if (sent % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(failure).toBeInstanceOf(PeerNotReadingError);
    expect(sent).toBeLessThan(MAX_CONTROL_QUEUE_COST / CONTROL_FRAME_COST + 10);
  });

  test("stalledMs tells how long the writer has waited for a drain", async () => {
    let drain = () => {};
    const socket: FrameSocket = { send: () => false, drained: () => new Promise<void>((r) => (drain = r)), close() {} };
    const writer = new FrameWriter(socket, () => {});
    expect(writer.stalledMs).toBe(0);
    writer.send(numbered(0)); // sent; the socket asks for a drain
    await new Promise((r) => setTimeout(r, 5));
    writer.send(numbered(1)); // waits for it
    await new Promise((r) => setTimeout(r, 30));
    expect(writer.stalledMs).toBeGreaterThanOrEqual(20);
    drain();
    await new Promise((r) => setTimeout(r, 5));
    expect(writer.stalledMs).toBe(0);
  });
});
