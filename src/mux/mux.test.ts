import { describe, expect, test } from "bun:test";
import { Flag, FrameKind, ResetCode } from "../protocol/constants.ts";
import { decodeFrameAt, encodeFrame } from "../protocol/frame.ts";
import type { RequestHead } from "../protocol/head.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { memorySocketPair } from "./_memory-socket-pair.ts";
import { MAX_PINGS_PER_SECOND, Mux } from "./mux.ts";
import type { MuxStream } from "./mux-stream.ts";
import { StreamResetError } from "./stream-reset-error.ts";

const WINDOW = 256 * 1024;

function pair(onStream: (stream: MuxStream, head: RequestHead) => void) {
  const [entrySocket, clientSocket] = memorySocketPair();
  const closes: { entry?: Error; client?: Error } = {};
  const entry = new Mux({
    role: "entry", socket: entrySocket, localWindow: WINDOW, peerWindow: WINDOW,
    onClose: (err) => (closes.entry = err),
  });
  const client = new Mux({
    role: "client", socket: clientSocket, localWindow: WINDOW, peerWindow: WINDOW, onStream,
    onClose: (err) => (closes.client = err),
  });
  entrySocket.onMessage = (b) => entry.receive(b);
  clientSocket.onMessage = (b) => client.receive(b);
  return { entry, client, entrySocket, clientSocket, closes };
}

function bytesStream(total: number, chunk = 100_000): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= total) return c.close();
      const n = Math.min(chunk, total - sent);
      c.enqueue(new Uint8Array(n).fill(sent % 251));
      sent += n;
    },
  });
}

/** DATA payload bytes among `sent` (whole messages of frames) for `streamId`. */
function dataBytes(sent: Uint8Array[], streamId: number): number {
  let total = 0;
  for (const message of sent) {
    for (let at = 0; at < message.byteLength;) {
      const frame = decodeFrameAt(message, at);
      if (frame.kind === FrameKind.Data && frame.streamId === streamId) total += frame.payload.byteLength;
      at = frame.end;
    }
  }
  return total;
}

const head = (target = "/"): RequestHead => ({ method: "POST", target, headers: [["x-a", "1"]] });
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe("Mux()", () => {
  test("carries a request and its response, bodies both ways", async () => {
    const { entry } = pair(async (stream, h) => {
      const body = new Uint8Array(await new Response(stream.body).arrayBuffer());
      stream.sendHead(FrameKind.ResponseHead, { status: 201, headers: [["x-len", String(body.byteLength)], ["x-path", h.target]] }, false);
      await stream.sendBody(new Response(body.reverse()).body!);
    });
    const stream = entry.open(head("/echo?x=1"), false);
    stream.sendBody(new Response(Uint8Array.of(1, 2, 3)).body!);
    const response = await stream.responseHead;
    expect(response.status).toBe(201);
    expect(response.headers).toEqual([["x-len", "3"], ["x-path", "/echo?x=1"]]);
    expect([...new Uint8Array(await new Response(stream.body).arrayBuffer())]).toEqual([3, 2, 1]);
    await tick();
    expect(entry.activeStreams).toBe(0);
  });

  test("a reader that stops stalls only its own stream, within one window", async () => {
    let slow: MuxStream | undefined;
    const { entry, client, entrySocket } = pair((stream, h) => {
      if (h.target === "/slow") {
        slow = stream; // never reads its request body
        return;
      }
      stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [] }, true);
    });
    const big = entry.open(head("/slow"), false);
    big.sendBody(bytesStream(4 * 1024 * 1024));
    await tick(30);
    expect(big.stalls).toBeGreaterThan(0);
    // What the entry sent of the stalled stream, and so what the client holds of it: one window exactly.
    expect(dataBytes(entrySocket.sent, big.id)).toBe(WINDOW);
    expect(client.activeStreams).toBe(1);
    // Small requests still go through while the big one is stalled.
    for (let i = 0; i < 20; i++) {
      const small = entry.open(head("/small"), true);
      expect((await small.responseHead).status).toBe(200);
    }
    // Once the reader reads, the rest flows.
    const received = (await new Response(slow!.body).arrayBuffer()).byteLength;
    expect(received).toBe(4 * 1024 * 1024);
  });

  test("data past the window is a protocol error that closes the uplink", async () => {
    const { entry, clientSocket, closes } = pair(() => {});
    entry.open(head(), false);
    await tick();
    // Forge 5 frames of 64 KiB: 320 KiB into a 256 KiB window.
    for (let i = 0; i < 5; i++) {
      entry.writer.send(encodeFrame(FrameKind.Data, 0, 1, new Uint8Array(64 * 1024)));
    }
    await tick(80);
    expect(closes.client).toBeInstanceOf(ProtocolError);
    expect(closes.client!.message).toContain("Window overrun");
    expect(clientSocket.closed).toBe(true);
  });

  test("rejects garbage, data on unknown streams and a second hello", () => {
    for (const frame of [
      Uint8Array.of(1, 2, 3),
      encodeFrame(FrameKind.Data, 0, 99, Uint8Array.of(1)),
      encodeFrame(FrameKind.Hello, 0, 0, new TextEncoder().encode("{}")),
      encodeFrame(FrameKind.ResponseHead, 0, 1, new TextEncoder().encode("{}")),
    ]) {
      const { client, closes } = pair(() => {});
      client.receive(frame);
      expect(closes.client).toBeInstanceOf(ProtocolError);
    }
  });

  test("late frames for a stream we reset are dropped, not errors", async () => {
    const { entry, client, closes, entrySocket } = pair((stream) => {
      stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [] }, false);
      stream.sendBody(bytesStream(1024 * 1024));
    });
    const stream = entry.open(head(), true);
    await stream.responseHead;
    // Count what arrives for the stream once it is reset: frames the client sent before it heard.
    let late = 0;
    const receive = entrySocket.onMessage;
    entrySocket.onMessage = (bytes) => {
      late += dataBytes([bytes], stream.id);
      receive(bytes);
    };
    stream.reset(ResetCode.Cancel, "visitor left");
    await tick(30);
    expect(late).toBeGreaterThan(0);
    expect(closes.entry).toBeUndefined();
    expect(closes.client).toBeUndefined();
    expect(client.activeStreams).toBe(0);
    expect(entry.activeStreams).toBe(0);
  });

  test("a reset reaches the other side with its code", async () => {
    let seen: StreamResetError | undefined;
    const { entry } = pair((stream) => {
      stream.onReset = (err) => (seen = err);
    });
    const stream = entry.open(head(), false);
    await tick();
    stream.reset(ResetCode.Timeout, "too slow");
    await tick();
    expect(seen?.code).toBe(ResetCode.Timeout);
    expect(seen?.message).toBe("too slow");
    await expect(stream.responseHead).rejects.toBeInstanceOf(StreamResetError);
  });

  test("closing the uplink ends every stream at once", async () => {
    const { entry } = pair(() => {});
    const streams = [entry.open(head(), true), entry.open(head(), true)];
    entry.close(new Error("socket gone"));
    for (const stream of streams) {
      await expect(stream.responseHead).rejects.toThrow("Uplink lost: socket gone");
    }
    expect(() => entry.open(head(), true)).toThrow(StreamResetError);
  });

  test("a malformed request head resets only its own stream; the uplink carries on", async () => {
    const { entry, closes } = pair((stream) => {
      stream.sendHead(FrameKind.ResponseHead, { status: 204, headers: [] }, true);
    });
    // The entry's mux sends heads as given: one the client refuses (DEL in a value), then a good one.
    const bad = entry.open({ method: "GET", target: "/", headers: [["x", "a\x7fb"]] }, true);
    const good = entry.open(head(), true);
    const err = await bad.responseHead.catch((e) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err.code).toBe(ResetCode.ProtocolError);
    expect((await good.responseHead).status).toBe(204);
    await tick(20);
    expect(closes.client).toBeUndefined();
    expect(closes.entry).toBeUndefined();
  });

  test("a malformed response head resets only its own stream, as ProtocolError", async () => {
    const { entry, clientSocket, closes } = pair((stream, h) => {
      if (h.target === "/bad") {
        clientSocket.send(encodeFrame(FrameKind.ResponseHead, 0, stream.id, new TextEncoder().encode(JSON.stringify({ status: 200, headers: [["x-reason", "\u00e9\u2603"]] }))));
      } else {
        stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [] }, true);
      }
    });
    const bad = entry.open(head("/bad"), true);
    const err = await bad.responseHead.catch((e) => e);
    expect(err).toBeInstanceOf(StreamResetError);
    expect(err.code).toBe(ResetCode.ProtocolError);
    const good = entry.open(head("/good"), true);
    expect((await good.responseHead).status).toBe(200);
    expect(closes.client).toBeUndefined();
    expect(closes.entry).toBeUndefined();
  });

  test("a head too large to encode leaves no stream behind", () => {
    const { entry } = pair(() => {});
    expect(() => entry.open({ method: "GET", target: "/", headers: [["x-big", "a".repeat(70_000)]] }, true)).toThrow(RangeError);
    expect(entry.activeStreams).toBe(0);
  });

  test("a ping flood is a protocol error that closes only that uplink", () => {
    const { client, closes } = pair(() => {});
    const ping = encodeFrame(FrameKind.Ping, 0, 0, new Uint8Array(8));
    const flood = new Uint8Array(ping.byteLength * (MAX_PINGS_PER_SECOND + 5));
    for (let i = 0; i < MAX_PINGS_PER_SECOND + 5; i++) flood.set(ping, i * ping.byteLength);
    client.receive(flood);
    expect(closes.client).toBeInstanceOf(ProtocolError);
    expect(closes.client!.message).toContain("Ping flood");
  });

  test("answers pings", async () => {
    const { entry, clientSocket } = pair(() => {});
    const rtt = await entry.ping();
    expect(Number.isFinite(rtt)).toBe(true);
    // Answered by the other side: a pong went back.
    expect(clientSocket.sent.some((m) => {
      const frame = decodeFrameAt(m, 0);
      return frame.kind === FrameKind.Ping && (frame.flags & Flag.Ack) !== 0;
    })).toBe(true);
  });
});
