import { describe, expect, test } from "bun:test";
import type { HeaderList } from "../protocol/head.ts";
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { FetchTarget } from "../client/target-tap.ts";
import { ReplayRefused, RequestInspector } from "./request-inspector.ts";
import type { TcpConnectionRecord } from "../client/tcp-forwarder.ts";
import { waitFor } from "../../test/helpers/wait.ts";

/** The tunnel's target, with a base path: the inspector records paths without it. */
const TARGET = new URL("http://127.0.0.1:3000/base");
const text = new TextEncoder();
const utf8 = new TextDecoder();

/** A body of these chunks, each read once asked for. */
function chunks(...parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = parts.map((p) => (typeof p === "string" ? text.encode(p) : p));
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  }, { highWaterMark: 0 });
}

/** A body that sends `first`, then fails with `message`. */
function failingAfter(first: string, message: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new Error(message));
      sent = true;
      controller.enqueue(text.encode(first));
    },
  }, { highWaterMark: 0 });
}

/** A target's answer as a runtime's fetch gives it. */
function answer(status: number, headers: HeaderList, body: ReadableStream<Uint8Array> | null): TargetResponse {
  return { status, headers, body, bytes: async () => new Uint8Array(await new Response(body).arrayBuffer()) };
}

/** What the fake target was sent: its body read whole (null when there was none). */
interface Seen {
  url: string;
  method: string;
  headers: HeaderList;
  body: Uint8Array | null;
  signal: AbortSignal;
}

/** A target that reads each request whole, notes it, and answers with `respond`. */
function fakeTarget(respond: (seen: Seen) => TargetResponse = () => answer(200, [], null)) {
  const seen: Seen[] = [];
  const fetchTarget: FetchTarget = async (request) => {
    const body = request.body ? new Uint8Array(await new Response(request.body).arrayBuffer()) : null;
    const got = { url: request.url, method: request.method, headers: request.headers, body, signal: request.signal };
    seen.push(got);
    return respond(got);
  };
  return { seen, fetchTarget };
}

/** A visitor's request as the forwarder hands it on: its URL already under the target's base. */
function visitor(path: string, init: { method?: string; headers?: HeaderList; body?: ReadableStream<Uint8Array> } = {}): TargetRequest {
  return {
    url: `${TARGET.origin}${TARGET.pathname}${path}`,
    method: init.method ?? (init.body ? "POST" : "GET"),
    headers: init.headers ?? [],
    body: init.body ?? null,
    signal: new AbortController().signal,
  };
}

/** Sends `request` through `tunnelFetch` and reads the response to its end; returns the body as text. */
async function pass(tunnelFetch: FetchTarget, request: TargetRequest): Promise<string> {
  return await new Response((await tunnelFetch(request)).body).text();
}

/** The refusal `promise` rejects with. */
async function refusal(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await promise.then(() => undefined, (e) => e);
  expect(err).toBeInstanceOf(ReplayRefused);
  return { status: err.status, message: err.message };
}

describe("RequestInspector.wrapFetch", () => {
  test("records method, path without the target's base, headers, both bodies, status, time and duration as they pass", async () => {
    const inspector = new RequestInspector();
    const target = fakeTarget(() => answer(201, [["content-type", "application/json"]], chunks('{"ok":', "true}")));
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, target.fetchTarget);
    const before = Date.now();
    const started = performance.now();
    const response = await tunnelFetch(visitor("/hook?x=1", { headers: [["content-type", "text/plain"], ["x-sig", "s1"]], body: chunks("hello ", "world") }));
    const [record] = inspector.store.list();
    // The head has come back, its body not read yet: not complete, nothing of it kept.
    expect(response.status).toBe(201);
    expect(record.status).toBe(201);
    expect(record.durationMs).toBeUndefined();
    expect(record.responseBody.done).toBe(false);
    expect(await new Response(response.body).text()).toBe('{"ok":true}');
    const elapsed = performance.now() - started;

    expect([record.id, record.tunnel, record.method, record.path, record.error, record.replayOf]).toEqual([1, "demo", "POST", "/hook?x=1", undefined, undefined]);
    expect(record.requestHeaders).toEqual([["content-type", "text/plain"], ["x-sig", "s1"]]);
    expect(record.responseHeaders).toEqual([["content-type", "application/json"]]);
    expect(utf8.decode(record.requestBody.bytes())).toBe("hello world");
    expect([record.requestBody.size, record.requestBody.done, record.requestBody.truncated]).toEqual([11, true, false]);
    expect(utf8.decode(record.responseBody.bytes())).toBe('{"ok":true}');
    expect([record.responseBody.size, record.responseBody.done]).toEqual([11, true]);
    expect(record.time).toBeGreaterThanOrEqual(before);
    expect(record.time).toBeLessThanOrEqual(Date.now());
    expect(record.durationMs).toBeGreaterThanOrEqual(0);
    expect(record.durationMs).toBeLessThanOrEqual(elapsed);
    // The target got the request untouched, under its base.
    expect(target.seen).toHaveLength(1);
    expect(target.seen[0].url).toBe("http://127.0.0.1:3000/base/hook?x=1");
    expect(utf8.decode(target.seen[0].body!)).toBe("hello world");
  });

  test("a small body read whole with bytes() is recorded, and a response without a body is complete once its body is asked for", async () => {
    const inspector = new RequestInspector();
    let status = 200;
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, fakeTarget(() => (status === 200 ? answer(200, [], chunks("small")) : answer(status, [], null))).fetchTarget);
    const small = await tunnelFetch(visitor("/small"));
    expect(utf8.decode(await small.bytes())).toBe("small");
    status = 204;
    const empty = await tunnelFetch(visitor("/empty"));
    const [second, first] = inspector.store.list();
    expect(second.durationMs).toBeUndefined();
    expect(empty.body).toBeNull();
    expect([first.status, first.responseBody.size, first.responseBody.done, first.durationMs !== undefined]).toEqual([200, 5, true, true]);
    expect(utf8.decode(first.responseBody.bytes())).toBe("small");
    expect([second.status, second.responseBody.size, second.responseBody.done, second.durationMs !== undefined, second.error]).toEqual([204, 0, true, true, undefined]);
  });

  test("bodies past maxBodyBytesEach pass whole, are counted whole and kept only up to the limit", async () => {
    const inspector = new RequestInspector({ maxBodyBytesEach: 10 });
    const target = fakeTarget((seen) => answer(200, [], chunks("0123456789", "abcdefghij", "ABCDEFGHIJ", seen.url.endsWith("/at-limit") ? "" : "!")));
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, target.fetchTarget);
    const got = await pass(tunnelFetch, visitor("/big", { body: chunks("a".repeat(7), "b".repeat(7), "c".repeat(11)) }));
    expect(got).toBe("0123456789abcdefghijABCDEFGHIJ!");
    expect(target.seen[0].body!.byteLength).toBe(25);
    const [big] = inspector.store.list();
    expect([big.requestBody.size, big.requestBody.keptBytes, big.requestBody.truncated]).toEqual([25, 10, true]);
    expect(utf8.decode(big.requestBody.bytes())).toBe("aaaaaaabbb");
    expect([big.responseBody.size, big.responseBody.keptBytes, big.responseBody.truncated]).toEqual([31, 10, true]);
    expect(utf8.decode(big.responseBody.bytes())).toBe("0123456789");
    // Exactly at the limit: all kept, nothing cut.
    await pass(tunnelFetch, visitor("/at-limit", { body: chunks("x".repeat(10)) }));
    const [atLimit] = inspector.store.list();
    expect([atLimit.requestBody.size, atLimit.requestBody.truncated]).toEqual([10, false]);
    expect([atLimit.responseBody.size, atLimit.responseBody.keptBytes, atLimit.responseBody.truncated]).toEqual([30, 10, true]);
  });

  test("a target that cannot be reached: its error passes on, carrying a record that says why", async () => {
    const inspector = new RequestInspector();
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:3000")));
    const err = await tunnelFetch(visitor("/down")).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe("connect ECONNREFUSED 127.0.0.1:3000");
    const [record] = inspector.store.list();
    expect(err.record).toBe(record);
    expect([record.path, record.status, record.error, record.responseBody.done]).toEqual(["/down", undefined, "connect ECONNREFUSED 127.0.0.1:3000", true]);
    expect(record.durationMs).toBeGreaterThanOrEqual(0);
  });

  test("a response body that fails midway, or that the forwarder cancels, is recorded as an error with what passed", async () => {
    const inspector = new RequestInspector();
    let body = () => failingAfter("part", "target reset the stream");
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, fakeTarget(() => answer(200, [], body())).fetchTarget);
    const failed = await tunnelFetch(visitor("/fails"));
    await expect(new Response(failed.body).text()).rejects.toThrow("target reset the stream");
    body = () => chunks("never", "read");
    const cancelled = await tunnelFetch(visitor("/cancelled"));
    await cancelled.body!.cancel();
    const [second, first] = inspector.store.list();
    expect([first.status, first.error, first.responseBody.size, first.responseBody.done]).toEqual([200, "target reset the stream", 4, true]);
    expect(utf8.decode(first.responseBody.bytes())).toBe("part");
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    expect([second.error, second.responseBody.size, second.responseBody.done, second.durationMs !== undefined]).toEqual(["Body cancelled", 0, true, true]);
  });

  test("the store holds the last maxRequests requests and drops the oldest past maxBodyBytes", async () => {
    const counted = new RequestInspector({ maxRequests: 3 });
    const countedFetch = counted.wrapFetch("demo", () => TARGET, fakeTarget().fetchTarget);
    for (let i = 1; i <= 5; i++) await pass(countedFetch, visitor(`/${i}`));
    expect(counted.store.list().map((r) => [r.id, r.path])).toEqual([[5, "/5"], [4, "/4"], [3, "/3"]]);
    expect(counted.store.get(2)).toBeUndefined();

    const bounded = new RequestInspector({ maxBodyBytes: 25, maxBodyBytesEach: 10 });
    const boundedFetch = bounded.wrapFetch("demo", () => TARGET, fakeTarget(() => answer(200, [], chunks("0123456789"))).fetchTarget);
    for (const path of ["/a", "/b", "/c"]) expect(await pass(boundedFetch, visitor(path))).toBe("0123456789");
    expect(bounded.store.list().map((r) => r.path)).toEqual(["/c", "/b"]);
    expect(bounded.store.bodyBytes).toBe(20);
  });
});

describe("RequestInspector.webSocket", () => {
  const upgrade = (path: string) => ({ method: "GET", path, headers: [["upgrade", "websocket"]] as HeaderList, responseHeaders: [["upgrade", "websocket"]] as HeaderList });

  test("records the upgrade as a 101 with its messages each way; closing records the first code and a duration", () => {
    const inspector = new RequestInspector();
    const tap = inspector.webSocket("demo", upgrade("/chat?room=1"));
    const [record] = inspector.store.list();
    expect([record.tunnel, record.method, record.path, record.status, record.durationMs]).toEqual(["demo", "GET", "/chat?room=1", 101, undefined]);
    expect(record.requestHeaders).toEqual([["upgrade", "websocket"]]);
    expect(record.responseHeaders).toEqual([["upgrade", "websocket"]]);
    expect([record.requestBody.done, record.responseBody.done]).toEqual([true, true]);
    for (const toTarget of [true, true, false, true, false]) tap.message(toTarget);
    expect(record.webSocket).toEqual({ toTarget: 3, fromTarget: 2, closed: false });
    tap.closed(1000);
    tap.closed(1006);
    expect(record.webSocket).toEqual({ toTarget: 3, fromTarget: 2, closed: true, closeCode: 1000 });
    expect(record.durationMs).toBeGreaterThanOrEqual(0);
  });

  test("message counts are published once per interval, not per message; closing publishes at once and cancels a pending one", async () => {
    const inspector = new RequestInspector();
    const updates: string[] = [];
    const heard = new Map<number, PromiseWithResolvers<void>>([[1, Promise.withResolvers()], [2, Promise.withResolvers()]]);
    inspector.store.subscribe((event) => {
      if (event.type !== "updated") return;
      const ws = event.request.webSocket!;
      updates.push(`${event.request.id}: ${ws.toTarget}/${ws.fromTarget}${ws.closed ? " closed" : ""}`);
      heard.get(event.request.id)!.resolve();
    });
    const first = inspector.webSocket("demo", upgrade("/one"));
    first.message(true);
    first.message(true);
    first.message(false);
    expect(updates).toEqual([]);
    await heard.get(1)!.promise;
    expect(updates).toEqual(["1: 2/1"]);
    // A message, then the close before its update is due: one update, at once.
    first.message(true);
    first.closed(1001);
    expect(updates).toEqual(["1: 2/1", "1: 3/1 closed"]);
    // A later socket's update comes after the time the cancelled one was due: none came for the first.
    const second = inspector.webSocket("demo", upgrade("/two"));
    second.message(false);
    await heard.get(2)!.promise;
    expect(updates).toEqual(["1: 2/1", "1: 3/1 closed", "2: 0/1"]);
  });
});

describe("RequestInspector.replay", () => {
  /** An inspector with one POST recorded through a target that echoes what it got. */
  async function withOriginal(limits = {}) {
    const inspector = new RequestInspector(limits);
    const target = fakeTarget((seen) => answer(200, [["content-type", "text/plain"]], chunks(`got ${seen.method} ${seen.body ? utf8.decode(seen.body) : "nothing"}`)));
    const tunnelFetch = inspector.wrapFetch("demo", () => TARGET, target.fetchTarget);
    const headers: HeaderList = [["host", "demo.tunnel.test"], ["content-type", "application/json"], ["content-length", "13"], ["x-sig", "s1"]];
    await pass(tunnelFetch, visitor("/hook?x=1", { headers, body: chunks('{"amount":42}') }));
    const [original] = inspector.store.list();
    return { inspector, target, tunnelFetch, original };
  }

  test("sends the recorded request again to the target, under its base, with its headers and body; framing made anew; recorded as a replay", async () => {
    const { inspector, target, original } = await withOriginal();
    const replay = await inspector.replay(original.id);
    expect(target.seen).toHaveLength(2);
    const sent = target.seen[1];
    expect([sent.url, sent.method, sent.signal.aborted]).toEqual(["http://127.0.0.1:3000/base/hook?x=1", "POST", false]);
    // No Host (the target's own is used); Content-Length counted for the body actually sent.
    expect(sent.headers).toEqual([["content-type", "application/json"], ["x-sig", "s1"], ["content-length", "13"]]);
    expect(utf8.decode(sent.body!)).toBe('{"amount":42}');
    expect([replay.id, replay.replayOf, replay.tunnel, replay.method, replay.path, replay.status, replay.error]).toEqual([2, 1, "demo", "POST", "/hook?x=1", 200, undefined]);
    // Resolved once its response ended: complete, its body kept.
    expect(replay.durationMs).toBeGreaterThanOrEqual(0);
    expect(utf8.decode(replay.responseBody.bytes())).toBe('got POST {"amount":42}');
    expect(utf8.decode(replay.requestBody.bytes())).toBe('{"amount":42}');
    expect(inspector.store.list().map((r) => [r.id, r.replayOf])).toEqual([[2, 1], [1, undefined]]);
  });

  test("with changes: the target gets the changed method, path, headers and the body's UTF-8 bytes", async () => {
    const { inspector, target, original } = await withOriginal();
    const headers: HeaderList = [["content-type", "text/plain; charset=utf-8"], ["Content-Length", "999"], ["Transfer-Encoding", "chunked"], ["x-sig", "s2"]];
    const replay = await inspector.replay(original.id, { method: "PUT", path: "/other?y=2", headers, body: "héllo ✓" });
    const sent = target.seen[1];
    expect([sent.url, sent.method]).toEqual(["http://127.0.0.1:3000/base/other?y=2", "PUT"]);
    expect(sent.headers).toEqual([["content-type", "text/plain; charset=utf-8"], ["x-sig", "s2"], ["content-length", "10"]]);
    expect([...sent.body!]).toEqual([...text.encode("héllo ✓")]);
    expect([replay.method, replay.path, replay.replayOf, replay.requestBody.size]).toEqual(["PUT", "/other?y=2", original.id, 10]);
    expect(utf8.decode(replay.responseBody.bytes())).toBe("got PUT héllo ✓");
    // Neither the caller's headers nor the original changed.
    expect(headers).toHaveLength(4);
    expect([original.method, original.path]).toEqual(["POST", "/hook?x=1"]);
    // An empty body: none sent, no Content-Length.
    await inspector.replay(original.id, { body: "" });
    expect([target.seen[2].body, target.seen[2].headers.some(([name]) => name === "content-length")]).toEqual([null, false]);
  });

  test("refused 404 for an unknown, cleared or dropped request or a tunnel not in this client, 400 for a WebSocket", async () => {
    const { inspector, original } = await withOriginal({ maxRequests: 3 });
    expect(await refusal(inspector.replay(99))).toEqual({ status: 404, message: "No request 99 (cleared, or dropped past the limits)" });
    const elsewhere = inspector.store.add({ tunnel: "elsewhere", time: Date.now(), method: "GET", path: "/", requestHeaders: [] });
    elsewhere.requestBody.done = true;
    expect(await refusal(inspector.replay(elsewhere.id))).toEqual({ status: 404, message: "No tunnel elsewhere in this client" });
    const ws = inspector.webSocket("demo", { method: "GET", path: "/ws", headers: [], responseHeaders: [] });
    expect(await refusal(inspector.replay(3))).toEqual({ status: 400, message: "A WebSocket cannot be replayed" });
    ws.closed(1000);
    // A fourth request drops the original past maxRequests.
    inspector.store.add({ tunnel: "demo", time: Date.now(), method: "GET", path: "/4", requestHeaders: [] });
    expect(await refusal(inspector.replay(original.id))).toEqual({ status: 404, message: `No request ${original.id} (cleared, or dropped past the limits)` });
    inspector.store.clear();
    expect(await refusal(inspector.replay(4))).toEqual({ status: 404, message: "No request 4 (cleared, or dropped past the limits)" });
  });

  test("refused 409 for a body still arriving, one that stopped short, or one larger than was kept; a body of one's own goes", async () => {
    const inspector = new RequestInspector({ maxBodyBytesEach: 8 });
    const target = fakeTarget();
    const replays = inspector.wrapFetch("demo", () => TARGET, target.fetchTarget);
    // A target that reads one chunk of the body and answers.
    const early = inspector.wrapFetch("early", () => TARGET, async (request) => {
      await request.body!.getReader().read();
      return answer(200, [], null);
    });
    await pass(early, visitor("/arriving", { body: chunks("abc", "def") }));
    expect(await refusal(inspector.replay(1))).toEqual({
      status: 409,
      message: "The request body is still arriving (3 bytes so far): replay it with a body of your own",
    });
    // The visitor's upload fails midway: so does the target's fetch.
    const err = await replays(visitor("/short", { body: failingAfter("0123456", "visitor went away") })).then(() => undefined, (e) => e);
    expect(err.message).toBe("visitor went away");
    expect(await refusal(inspector.replay(2))).toEqual({
      status: 409,
      message: "The request body did not arrive whole (7 bytes so far): replay it with a body of your own",
    });
    await pass(replays, visitor("/large", { body: chunks("x".repeat(20)) }));
    expect(await refusal(inspector.replay(3))).toEqual({
      status: 409,
      message: "The request body (20 bytes) was larger than the 8 bytes kept: replay it with a body of your own",
    });
    expect(target.seen.map((s) => s.url.slice(TARGET.origin.length))).toEqual(["/base/large"]);
    const own = await inspector.replay(3, { body: "short" });
    expect([own.replayOf, own.status, utf8.decode(target.seen[1].body!)]).toEqual([3, 200, "short"]);
  });

  test("refused 400 for a request that cannot be sent; nothing reaches the target or the store", async () => {
    const { inspector, target, tunnelFetch, original } = await withOriginal();
    await pass(tunnelFetch, visitor("/get"));
    const get = inspector.store.get(2)!;
    const cases: [number, object, string][] = [
      [original.id, { path: "no slash" }, "Cannot send this request: the request target is not a path"],
      [original.id, { path: "/a b" }, "Cannot send this request: the request target is not a path"],
      [original.id, { method: "GE T" }, "Cannot send this request: the method is not a token"],
      [original.id, { headers: [["bad name", "x"]] }, 'Cannot send this request: header name "bad name" is not a token'],
      [original.id, { headers: [["x-a", "1\r\nx-b: 2"]] }, "Cannot send this request: header x-a has a character the tunnel does not carry (U+000D)"],
      [original.id, { method: "HEAD" }, "A HEAD request carries no body here"],
      [get.id, { body: "x" }, "A GET request carries no body here"],
    ];
    for (const [id, changes, message] of cases) expect(await refusal(inspector.replay(id, changes))).toEqual({ status: 400, message });
    expect(target.seen).toHaveLength(2);
    expect(inspector.store.size).toBe(2);
  });

  test("a replay whose target fails resolves with its record, which carries the error", async () => {
    const inspector = new RequestInspector();
    let down = false;
    const target = fakeTarget(() => {
      if (down) throw new Error("connect ECONNREFUSED 127.0.0.1:3000");
      return answer(200, [], null);
    });
    await pass(inspector.wrapFetch("demo", () => TARGET, target.fetchTarget), visitor("/hook"));
    down = true;
    const replay = await inspector.replay(1);
    expect([replay.id, replay.replayOf, replay.status, replay.error, replay.responseBody.done]).toEqual([2, 1, undefined, "connect ECONNREFUSED 127.0.0.1:3000", true]);
    expect(replay.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("RequestInspector, a target that fails before reading the body", () => {
  test("the body is recorded as ended, not as still arriving, and replay says it did not arrive whole", async () => {
    const inspector = new RequestInspector();
    const send = inspector.wrapFetch("demo", () => new URL("http://127.0.0.1:1"), () => Promise.reject(new Error("connection refused")));
    await send({ url: "http://127.0.0.1:1/hook", method: "POST", headers: [], body: new Response("{}").body, signal: new AbortController().signal }).catch(() => {});
    const [record] = inspector.store.list();
    expect([record.error, record.requestBody.done]).toEqual(["connection refused", true]);
    await expect(inspector.replay(record.id)).rejects.toThrow("did not arrive whole");
  });
});

describe("RequestInspector: TCP connections", () => {
  test("a connection is listed with its bytes each way as they flow, then its duration; it cannot be replayed", async () => {
    const inspector = new RequestInspector();
    const record: TcpConnectionRecord = { visitor: "203.0.113.9:50000", startedAt: Date.now(), bytesIn: 0, bytesOut: 0 };
    inspector.tcpConnection("ssh", record);
    const listed = inspector.store.get(1)!;
    expect([listed.method, listed.path, listed.tcp?.closed]).toEqual(["TCP", "203.0.113.9:50000", false]);
    record.bytesIn = 120;
    record.bytesOut = 4096;
    expect([listed.tcp?.bytesIn, listed.tcp?.bytesOut]).toEqual([120, 4096]);
    record.endedAt = record.startedAt + 1500;
    await waitFor(() => listed.durationMs !== undefined);
    expect([listed.durationMs, listed.tcp?.closed]).toEqual([1500, true]);
    await expect(inspector.replay(1)).rejects.toThrow("A TCP connection cannot be replayed");
  });
});
