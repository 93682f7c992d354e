import { describe, expect, test } from "bun:test";
import { FrameKind } from "../protocol/constants.ts";
import { decodeClose, encodeClose, encodeRecord, RecordKind, RecordParser, type WebSocketRecord } from "../protocol/websocket-records.ts";
import { memorySocketPair } from "../mux/_memory-socket-pair.ts";
import { Mux } from "../mux/mux.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import type { VisitorSocket } from "../runtime/entry-runtime.ts";
import { type FarWebSocket, type FarWebSocketEvents, WebSocketBridge } from "./websocket-bridge.ts";
import { StreamWebSocket } from "./stream-web-socket.ts";
import { MAX_AHEAD_BYTES, VisitorWebSockets } from "./visitor-web-sockets.ts";

const WINDOW = 256 * 1024;
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A visitor socket that records what it was sent and how it was closed. */
class FakeVisitor implements VisitorSocket {
  sent: (string | Uint8Array)[] = [];
  closed: { code?: number; reason?: string } | undefined;
  full = false;
  #drain: PromiseWithResolvers<void> | undefined;
  send(data: string | Uint8Array<ArrayBuffer>): boolean {
    this.sent.push(data);
    return !this.full;
  }
  drained(): Promise<void> {
    if (!this.full) return Promise.resolve();
    this.#drain ??= Promise.withResolvers<void>();
    return this.#drain.promise;
  }
  empty(): void {
    this.full = false;
    this.#drain?.resolve();
    this.#drain = undefined;
  }
  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }
}

/**
 * An entry-side bridge on a live in-memory mux; the client side's stream is
 * handed back. `read: false`: the target never reads, so what the visitor
 * sends piles up in the bridge.
 */
async function bridged(sockets = new VisitorWebSockets(), read = true) {
  const [entrySocket, clientSocket] = memorySocketPair();
  let clientStream!: MuxStream;
  const entry = new Mux({ role: "entry", socket: entrySocket, localWindow: WINDOW, peerWindow: WINDOW });
  const client = new Mux({
    role: "client",
    socket: clientSocket,
    localWindow: WINDOW,
    peerWindow: WINDOW,
    onStream: (stream) => {
      clientStream = stream;
      stream.sendHead(FrameKind.ResponseHead, { status: 101, headers: [] }, false);
    },
  });
  entrySocket.onMessage = (b) => entry.receive(b);
  clientSocket.onMessage = (b) => client.receive(b);
  const stream = entry.open({ method: "GET", target: "/ws", headers: [], websocket: true }, false);
  await stream.responseHead;
  const bridge = new WebSocketBridge("demo", new StreamWebSocket(stream), sockets);
  const visitor = new FakeVisitor();
  bridge.onOpen(visitor);
  const records: WebSocketRecord[] = [];
  const parser = new RecordParser();
  const reading = read
    ? (async () => {
      for await (const chunk of clientStream.body) records.push(...parser.push(chunk));
    })().catch(() => {})
    : Promise.resolve();
  return { bridge, visitor, clientStream, records, reading, sockets, stream };
}

describe("WebSocketBridge", () => {
  test("visitor messages become records in order; the close follows them with End", async () => {
    const { bridge, records, reading } = await bridged();
    bridge.onMessage("hello");
    bridge.onMessage(new Uint8Array([1, 2, 3]));
    bridge.onMessage("");
    bridge.onClose(4000, "bye");
    await reading;
    expect(records.map((r) => r.kind)).toEqual([RecordKind.Text, RecordKind.Binary, RecordKind.Text, RecordKind.Close]);
    expect(new TextDecoder().decode(records[0].payload)).toBe("hello");
    expect([...records[1].payload]).toEqual([1, 2, 3]);
    expect(decodeClose(records[3].payload)).toEqual({ code: 4000, reason: "bye" });
  });

  test("the client's records reach the visitor, waiting while its socket is full, then its close", async () => {
    const { visitor, clientStream } = await bridged();
    visitor.full = true;
    await clientStream.sendBytes(encodeRecord(RecordKind.Text, "one"));
    await clientStream.sendBytes(encodeRecord(RecordKind.Binary, new Uint8Array([9])));
    await tick(20);
    expect(visitor.sent).toEqual(["one"]); // held back until the socket drains
    visitor.empty();
    await clientStream.sendBytes(encodeClose(4321, "target says bye"));
    clientStream.sendEnd();
    await tick(20);
    expect(visitor.sent).toEqual(["one", new Uint8Array([9])]);
    expect(visitor.closed).toEqual({ code: 4321, reason: "target says bye" });
  });

  test("a visitor sending more than MAX_AHEAD_BYTES ahead of the target is closed with 1008", async () => {
    const { bridge, visitor, stream } = await bridged();
    const mebibyte = new Uint8Array(1024 * 1024);
    let sent = 0;
    for (; sent < 100 && !visitor.closed; sent++) bridge.onMessage(mebibyte);
    expect(sent).toBeLessThanOrEqual(MAX_AHEAD_BYTES / mebibyte.byteLength + 2);
    expect(visitor.closed?.code).toBe(1008);
    await tick(10);
    expect(stream.resetError).toBeDefined();
  });

  test("a lost uplink closes the visitor with 1011; draining closes it with 1001", async () => {
    const lost = await bridged();
    lost.stream.fail(new StreamResetError(1, "uplink closed"));
    expect(lost.visitor.closed?.code).toBe(1011);

    const draining = await bridged();
    expect(draining.sockets.open.size).toBe(1);
    for (const s of draining.sockets.open) s.goAway();
    expect(draining.visitor.closed?.code).toBe(1001);
    await draining.reading;
    expect(decodeClose(draining.records.at(-1)!.payload).code).toBe(1001);
  });

  test("past the entry's budget, a socket holding more than its fair share gets 1013; one holding little goes on", async () => {
    const mebibyte = new Uint8Array(1024 * 1024);
    const sockets = new VisitorWebSockets({ maxEntryBytes: 4 * mebibyte.byteLength, fairShareBytes: mebibyte.byteLength });
    const hog = await bridged(sockets, false);
    for (let i = 0; i < 3; i++) hog.bridge.onMessage(mebibyte);
    const light = await bridged(sockets, false);
    light.bridge.onMessage(mebibyte); // the entry's total passes 4 MiB; this socket held nothing before
    expect(light.visitor.closed).toBeUndefined();
    hog.bridge.onMessage(mebibyte);
    expect(hog.visitor.closed?.code).toBe(1013);
    // Another entry's budget is its own.
    const elsewhere = await bridged(new VisitorWebSockets({ maxEntryBytes: 4 * mebibyte.byteLength, fairShareBytes: mebibyte.byteLength }), false);
    for (let i = 0; i < 3; i++) elsewhere.bridge.onMessage(mebibyte);
    expect(elsewhere.visitor.closed).toBeUndefined();
    // What a reset stream held is released.
    await tick(10);
    light.stream.reset(1, "done");
    await tick(10);
    expect(sockets.unsentBytes).toBe(0);
  });
});

/** The WebSocket to another entry, as the peer bridge sees it: sends wait until `release()`. */
class StalledPeer implements FarWebSocket {
  sent = 0;
  closed: number | undefined;
  destroyed: string | undefined;
  events: FarWebSocketEvents | undefined;
  #waiting: (() => void)[] = [];
  start(events: FarWebSocketEvents): void {
    this.events = events;
  }
  send(_text: boolean, data: Uint8Array): Promise<void> {
    this.sent += data.byteLength;
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  close(code: number): void {
    this.closed = code;
  }
  destroy(reason: string): void {
    this.destroyed = reason;
  }
  release(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

describe("WebSocketBridge to another entry", () => {
  test("what a forwarded visitor sends ahead counts toward the entry's budget: past it, 1013", async () => {
    const mebibyte = new Uint8Array(1024 * 1024);
    const sockets = new VisitorWebSockets({ maxEntryBytes: 4 * mebibyte.byteLength, fairShareBytes: mebibyte.byteLength });
    const own = await bridged(sockets, false);
    for (let i = 0; i < 2; i++) own.bridge.onMessage(mebibyte);
    const peer = new StalledPeer();
    const forwarded = new WebSocketBridge("demo", peer, sockets);
    const visitor = new FakeVisitor();
    forwarded.onOpen(visitor);
    expect(sockets.open.size).toBe(2);
    for (let i = 0; i < 3 && !visitor.closed; i++) forwarded.onMessage(mebibyte);
    expect(visitor.closed?.code).toBe(1013);
    // Dropped at once: a close frame would wait behind the megabytes it could not send.
    expect([peer.closed, peer.destroyed]).toEqual([undefined, "Entry-wide WebSocket buffer full"]);
    expect(sockets.open.has(forwarded)).toBe(false);
    peer.release();
    await tick();
    expect(sockets.unsentBytes).toBeLessThanOrEqual(2 * mebibyte.byteLength + 64);
  });

  test("a forwarded visitor more than MAX_AHEAD_BYTES ahead is closed with 1008", () => {
    const peer = new StalledPeer();
    const forwarded = new WebSocketBridge("demo", peer, new VisitorWebSockets());
    const visitor = new FakeVisitor();
    forwarded.onOpen(visitor);
    const mebibyte = new Uint8Array(1024 * 1024);
    let sent = 0;
    for (; sent < 100 && !visitor.closed; sent++) forwarded.onMessage(mebibyte);
    expect(sent).toBeLessThanOrEqual(MAX_AHEAD_BYTES / mebibyte.byteLength + 2);
    expect(visitor.closed?.code).toBe(1008);
  });

  test("messages both ways, the visitor waiting while its socket is full; each side's close reaches the other", async () => {
    const peer = new StalledPeer();
    const bridge = new WebSocketBridge("demo", peer, new VisitorWebSockets());
    const visitor = new FakeVisitor();
    bridge.onOpen(visitor);
    visitor.full = true;
    const held = peer.events!.onMessage(true, new TextEncoder().encode("from the target"));
    expect(held).toBeInstanceOf(Promise);
    let drained = false;
    held!.then(() => drained = true);
    await tick();
    expect(drained).toBe(false);
    visitor.empty();
    await tick();
    expect([visitor.sent, drained]).toEqual([["from the target"], true]);
    peer.events!.onMessage(false, new Uint8Array([7]));
    expect(visitor.sent.at(-1)).toEqual(new Uint8Array([7]));
    bridge.onMessage("héllo");
    expect(peer.sent).toBe(6); // UTF-8 bytes
    peer.events!.onClose(4001, "target done");
    expect(visitor.closed).toEqual({ code: 4001, reason: "target done" });
    bridge.onClose(4001, "target done"); // the visitor's echo goes back as a close, not a loss
    expect([peer.closed, peer.destroyed]).toEqual([4001, undefined]);
  });

  test("a visitor lost without a close drops the far side", () => {
    const peer = new StalledPeer();
    const sockets = new VisitorWebSockets();
    const bridge = new WebSocketBridge("demo", peer, sockets);
    bridge.onOpen(new FakeVisitor());
    bridge.onClose(1006, "");
    expect([peer.closed, peer.destroyed, sockets.open.size]).toEqual([undefined, "Visitor's WebSocket lost", 0]);
  });
});
