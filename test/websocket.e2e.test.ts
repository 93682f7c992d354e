/**
 * End to end: visitors' WebSockets through real entry and client processes
 * (Bun, Deno and both mixes) to a real WebSocket target.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { sessionHost } from "./helpers/visitor.ts";
import { rawRequest } from "./helpers/visitor.ts";
import { waitFor } from "./helpers/wait.ts";
import { startWebSocketTarget } from "./helpers/websocket-target.ts";

const target = startWebSocketTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(() => stopAll());
afterAll(() => target.stop());

/** A visitor's WebSocket with awaitable messages and close. */
interface Visitor {
  ws: WebSocket;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  next(): Promise<string | Uint8Array>;
}

function openVisitor(port: number, session: string, path: string, protocols: string[] = [], headers: Record<string, string> = {}): Visitor {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
    headers: { host: sessionHost(session, port), ...headers },
    protocols,
  } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const queue: (string | Uint8Array)[] = [];
  const waiting: ((m: string | Uint8Array) => void)[] = [];
  ws.onmessage = (event) => {
    const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer);
    const waiter = waiting.shift();
    if (waiter) waiter(data);
    else queue.push(data);
  };
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("WebSocket failed to open"));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (event) => resolve({ code: event.code, reason: event.reason });
  });
  return {
    ws,
    opened,
    closed,
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

const sha = (parts: (string | Uint8Array)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(typeof p === "string" ? `t${p.length}:${p}` : Buffer.concat([Buffer.from(`b${p.byteLength}:`), p]));
  return h.digest("hex");
};

function randomMessage(i: number): string | Uint8Array {
  const size = i % 7 === 0 ? 0 : Math.floor(Math.random() * 100_000);
  if (i % 2 === 0) return "é✓".repeat(Math.floor(size / 6)) + String(i);
  const bytes = new Uint8Array(size);
  for (let k = 0; k < size; k += 4096) bytes[k] = (i + k) & 0xff;
  return bytes;
}

const pairings: [Runtime, Runtime][] = [["bun", "bun"], ["deno", "deno"], ["bun", "deno"], ["deno", "bun"]];

describe.each(pairings)("WebSockets, entry on %s, client on %s", (entryRuntime, clientRuntime) => {
  async function tunnel() {
    const entry = await startEntry(entryRuntime);
    await startClient(clientRuntime, entry, "ws", targetUrl);
    return entry;
  }

  test("text and binary messages, empty ones included, echo unchanged and in order", async () => {
    const entry = await tunnel();
    const v = openVisitor(entry.port, "ws", "/echo");
    await v.opened;
    const sent = Array.from({ length: 120 }, (_, i) => randomMessage(i));
    for (const m of sent) v.ws.send(m);
    const got: (string | Uint8Array)[] = [];
    for (let i = 0; i < sent.length; i++) got.push(await v.next());
    expect(got.map((m) => typeof m)).toEqual(sent.map((m) => typeof m));
    expect(sha(got)).toBe(sha(sent));
    v.ws.close(1000);
    expect((await v.closed).code).toBe(1000);
  });

  test("16 MiB messages, binary and text, both ways", async () => {
    const entry = await tunnel();
    const v = openVisitor(entry.port, "ws", "/echo");
    await v.opened;
    const big = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 997) big[i] = i & 0xff;
    const text = "x".repeat(16 * 1024 * 1024 - 3) + "end";
    v.ws.send(big);
    v.ws.send(text);
    const echoedBinary = await v.next();
    const echoedText = await v.next();
    expect(sha([echoedBinary])).toBe(sha([big]));
    expect(echoedText).toBe(text);
    v.ws.close();
  }, 60_000);

  test("close codes and reasons pass both ways", async () => {
    const entry = await tunnel();
    const fromTarget = openVisitor(entry.port, "ws", "/echo");
    await fromTarget.opened;
    fromTarget.ws.send("close:4321:target says bye");
    expect(await fromTarget.closed).toEqual({ code: 4321, reason: "target says bye" });

    const before = target.closes.length;
    const fromVisitor = openVisitor(entry.port, "ws", "/echo");
    await fromVisitor.opened;
    fromVisitor.ws.send("ping");
    expect(await fromVisitor.next()).toBe("ping");
    fromVisitor.ws.close(4000, "visitor says bye");
    expect((await fromVisitor.closed).code).toBe(4000);
    await waitFor(() => target.closes.length > before);
    expect(target.closes.at(-1)).toEqual({ code: 4000, reason: "visitor says bye" });
  });

  test("the subprotocol the target chose reaches the visitor; cookies, Origin and X-Forwarded-Host reach the target", async () => {
    const entry = await tunnel();
    const chosen = openVisitor(entry.port, "ws", "/echo", ["x-unknown", "superchat"]);
    await chosen.opened;
    expect(chosen.ws.protocol).toBe("superchat");
    chosen.ws.close();
    const none = openVisitor(entry.port, "ws", "/echo");
    await none.opened;
    expect(none.ws.protocol).toBe("");
    none.ws.close();
    const withCookie = openVisitor(entry.port, "ws", "/cookie", [], { cookie: "sid=abc; theme=dark", origin: "http://ws.localhost" });
    await withCookie.opened;
    const seen = JSON.parse(await withCookie.next() as string);
    expect(seen.cookie).toBe("sid=abc; theme=dark");
    expect(seen.origin).toBe("http://ws.localhost");
    expect(seen.forwardedHost).toBe(sessionHost("ws", entry.port));
    expect(seen.host).toBe(`127.0.0.1:${target.port}`);
    withCookie.ws.close();
  });

  test("the cookie the target sets on its 101 reaches the visitor", async () => {
    const entry = await tunnel();
    const visitor = await stalledVisitor(entry.port, "ws", "/echo");
    expect(visitor.head.toLowerCase()).toContain("set-cookie: ws-seen=yes; path=/");
    await visitor.readAll(0);
  });

  test("a target that refuses the upgrade gives the visitor its HTTP answer", async () => {
    const entry = await tunnel();
    const answer = await rawRequest(entry.port, [upgradeRequest(entry.port, "ws", "/refuse")]);
    expect(answer).toStartWith("HTTP/1.1 403");
    expect(answer).toContain("no sockets here");
  });
});

/** A raw visitor that completes the handshake and then reads nothing until asked. */
async function stalledVisitor(port: number, session: string, path: string) {
  const socket = connect(port, "127.0.0.1");
  let received = 0;
  let head = "";
  let headDone!: () => void;
  const headRead = new Promise<void>((resolve) => (headDone = resolve));
  socket.on("data", (chunk: Buffer) => {
    if (head.includes("\r\n\r\n")) {
      received += chunk.byteLength;
      return;
    }
    head += chunk.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end !== -1) {
      received += Buffer.byteLength(head.slice(end + 4), "latin1");
      head = head.slice(0, end + 4);
      socket.pause();
      headDone();
    }
  });
  socket.write(upgradeRequest(port, session, path).replace("Connection: close\r\n", ""));
  await headRead;
  expect(head).toStartWith("HTTP/1.1 101");
  return {
    head,
    /** Reads until at least `total` bytes have arrived and then nothing more for 300 ms; resolves with the count. */
    async readAll(total: number): Promise<number> {
      socket.resume();
      await waitFor(() => received >= total, 30_000).catch(() => {
        throw new Error(`only ${received} of at least ${total} bytes arrived`);
      });
      for (let last = -1; last !== received;) {
        last = received;
        await Bun.sleep(300);
      }
      socket.destroy();
      return received;
    },
  };
}

function upgradeRequest(port: number, session: string, path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${sessionHost(session, port)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nConnection: close\r\n\r\n`;
}

describe.each(["bun", "deno"] as Runtime[])("WebSockets at scale and under failure, entry and client on %s", (runtime) => {
  test("500 concurrent sockets, no cross-talk", async () => {
    const entry = await startEntry(runtime);
    await startClient(runtime, entry, "many", targetUrl);
    const visitors = Array.from({ length: 500 }, () => openVisitor(entry.port, "many", "/echo"));
    await Promise.all(visitors.map((v) => v.opened));
    for (let round = 0; round < 3; round++) visitors.forEach((v, i) => v.ws.send(`socket ${i} message ${round}`));
    const results = await Promise.all(visitors.map(async (v) => [await v.next(), await v.next(), await v.next()]));
    results.forEach((messages, i) => expect(messages).toEqual([0, 1, 2].map((r) => `socket ${i} message ${r}`)));
    const metrics = await (await fetch(`http://127.0.0.1:${entry.port}/metrics`)).text();
    expect(metrics).toContain('tunnel2_websockets{session="many"} 500');
    const api = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
    expect(api.sessions[0].webSockets).toBe(500);
    visitors.forEach((v) => v.ws.close());
    await Promise.all(visitors.map((v) => v.closed));
  }, 60_000);

  test("a visitor who stops reading stalls only its own socket; no byte is lost", async () => {
    const entry = await startEntry(runtime);
    await startClient(runtime, entry, "stall", targetUrl);
    const mib = 200;
    const flooded = target.flooded.mib;
    const slow = await stalledVisitor(entry.port, "stall", `/flood?mib=${mib}`);
    await Bun.sleep(1500);
    // Windows and socket buffers hold a few MiB; the target is held back, not the entry's memory.
    const sentWhileStalled = target.flooded.mib - flooded;
    expect(sentWhileStalled).toBeLessThan(48);
    const other = openVisitor(entry.port, "stall", "/echo");
    await other.opened;
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      other.ws.send(`quick ${i}`);
      expect(await other.next()).toBe(`quick ${i}`);
    }
    expect(Date.now() - started).toBeLessThan(2000);
    other.ws.close();
    // Every payload byte arrives (frame headers add a little, however the entry's runtime frames them).
    const received = await slow.readAll(mib * 1024 * 1024);
    expect(received).toBeGreaterThanOrEqual(mib * (1024 * 1024 + 10));
    expect(received).toBeLessThan(mib * 1024 * 1024 * 1.01);
  }, 60_000);

  test("the uplink's loss closes the visitor's socket with 1011 at once", async () => {
    const entry = await startEntry(runtime);
    const client = await startClient(runtime, entry, "lossy", targetUrl);
    const v = openVisitor(entry.port, "lossy", "/echo");
    await v.opened;
    v.ws.send("still here");
    expect(await v.next()).toBe("still here");
    const killedAt = Date.now();
    client.proc.kill("SIGKILL");
    const closed = await v.closed;
    expect(closed.code).toBe(1011);
    expect(Date.now() - killedAt).toBeLessThan(3000);
  });

  test("a draining entry closes the visitor's socket with 1001 and the target hears of it", async () => {
    const entry = await startEntry(runtime, { DRAIN_TIMEOUT_MS: "3000" });
    await startClient(runtime, entry, "draining", targetUrl);
    const v = openVisitor(entry.port, "draining", "/echo");
    await v.opened;
    const before = target.closes.length;
    entry.proc.kill("SIGTERM");
    expect((await v.closed).code).toBe(1001);
    await waitFor(() => target.closes.length > before);
    expect(target.closes.at(-1)!.code).toBe(1001);
  });
});

describe("WebSocket handshakes the entry refuses", () => {
  test("a malformed handshake gets 400 from the entry, naming what is missing", async () => {
    const entry = await startEntry("bun");
    await startClient("bun", entry, "strict", targetUrl);
    const noKey = upgradeRequest(entry.port, "strict", "/echo").replace(/Sec-WebSocket-Key: .*\r\n/, "");
    const answer = await rawRequest(entry.port, [noKey]);
    expect(answer).toStartWith("HTTP/1.1 400");
    expect(answer).toContain("Sec-WebSocket-Key");
  });
});

describe("WebSocket target down", () => {
  test("the visitor gets 502 naming the target, not a hung socket", async () => {
    const entry = await startEntry("bun");
    await startClient("bun", entry, "down", "http://127.0.0.1:9");
    const answer = await rawRequest(entry.port, [upgradeRequest(entry.port, "down", "/echo")]);
    expect(answer).toStartWith("HTTP/1.1 502");
    expect(answer).toContain("could not be reached");
  });
});
