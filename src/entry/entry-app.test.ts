import { afterEach, describe, expect, test } from "bun:test";
import { CONNECT_PATH, FrameKind, ResetCode, UPLINK_SESSION_HEADER } from "../protocol/constants.ts";
import { decodeFrameAt, encodeFrame } from "../protocol/frame.ts";
import { decodeWelcome, encodeJson, type HeaderList, type RequestHead, type Welcome } from "../protocol/head.ts";
import { memorySocketPair } from "../mux/_memory-socket-pair.ts";
import { Mux } from "../mux/mux.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import type { StreamResetError } from "../mux/stream-reset-error.ts";
import { entryConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { EntryBindings, UplinkSocketEvents } from "../runtime/entry-runtime.ts";
import { createEntryApp, type EntryHandler } from "./entry-app.ts";
import type { EntryState } from "./proxy.ts";
import { SessionRegistry } from "./session-registry.ts";
import { sessionToken } from "./session-token.ts";
import { VisitorWebSockets } from "./visitor-web-sockets.ts";
import { PEER_FOR, PEER_FROM, PEER_HOST, PEER_NOT_HELD, PEER_SIGNATURE, PEER_TARGET } from "./peer-headers.ts";

const DOMAIN = "tunnel.test";
const SESSION_HOST = `demo.${DOMAIN}`;
const VISITOR = "203.0.113.7";
const WINDOW = 256 * 1024;
const text = new TextEncoder();

/** What the client side does with each stream the entry opens. */
type Target = (stream: MuxStream, head: RequestHead) => void | Promise<void>;

/** Whatever was started in a test, stopped after it. */
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const silent: Logger = { info() {}, warn() {}, error() {} };

/** An entry built as the launcher builds it, from flags and environment. */
function startEntry(flags: string[] = [], env: Record<string, string> = {}) {
  const config = entryConfig(["--domain", DOMAIN, ...flags], env);
  const registry = new SessionRegistry();
  const state: EntryState = { draining: false, webSockets: new VisitorWebSockets() };
  const entry = createEntryApp({ config, registry, log: silent, state, listenPort: () => 8080 });
  cleanups.push(() => entry.close());
  return { entry, registry, state, config };
}

/** Request bindings as an adapter makes them; counts how often the idle timeout is lifted and put back. */
function bindings(upgradeUplink: (events: UplinkSocketEvents) => Response | undefined = () => undefined) {
  const idle = { suspended: 0, resumed: 0 };
  const env: EntryBindings = {
    remoteAddress: VISITOR,
    upgradeUplink,
    upgradeVisitor: () => undefined,
    suspendIdleTimeout() {
      idle.suspended++;
      let resumed = false;
      return () => {
        if (!resumed) idle.resumed++;
        resumed = true;
      };
    },
  };
  return { env, idle };
}

/** Resolves once `condition` holds, checking after each turn of the event loop; fails after 2 s. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/**
 * A tunnel client on an in-memory socket: its upgrade goes through the
 * entry's uplink endpoint, then hello, welcome, and a client-role Mux whose
 * streams `target` answers.
 */
async function connectClient(entry: EntryHandler, target: Target, session = "demo", upgrade: HeadersInit = {}) {
  const [entrySide, clientSide] = memorySocketPair();
  const welcomed = Promise.withResolvers<Welcome>();
  welcomed.promise.catch(() => {}); // awaited only once the upgrade is accepted
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  let mux: Mux | undefined;
  clientSide.onMessage = (bytes) => {
    if (mux) return mux.receive(bytes);
    const frame = decodeFrameAt(bytes, 0);
    if (frame.kind !== FrameKind.Welcome) return welcomed.reject(new Error(`Expected welcome, got kind ${frame.kind}`));
    const welcome = decodeWelcome(frame.payload);
    mux = new Mux({
      role: "client",
      socket: clientSide,
      localWindow: WINDOW,
      peerWindow: welcome.window,
      onStream: (stream, head) => void Promise.resolve(target(stream, head)).catch(() => {}),
    });
    welcomed.resolve(welcome);
    if (frame.end < bytes.byteLength) mux.receive(bytes.subarray(frame.end));
  };
  clientSide.onClose = (code, reason) => {
    mux?.close(new Error("closed"));
    closed.resolve({ code, reason });
    welcomed.reject(new Error(`Uplink closed before its welcome: ${code} ${reason}`));
  };
  const { env } = bindings((events) => {
    entrySide.onMessage = (bytes) => events.onMessage(bytes);
    entrySide.onClose = (code, reason) => events.onClose(code, reason);
    events.onOpen(entrySide);
    return new Response(null); // as Bun: the runtime answers the upgrade itself
  });
  const request = new Request(`http://${DOMAIN}${CONNECT_PATH}`, { headers: { host: DOMAIN, upgrade: "websocket", ...upgrade } });
  const upgraded = await entry.fetch(request, env);
  cleanups.push(() => clientSide.close(1000, "test over"));
  if (upgraded.status !== 200) return { upgraded, socket: clientSide, closed: closed.promise, welcome: undefined };
  clientSide.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({ session, token: "", window: WINDOW })));
  return { upgraded, socket: clientSide, closed: closed.promise, welcome: await welcomed.promise };
}

/** A visitor's request to a Host, as a runtime's server hands it over. */
function visit(entry: EntryHandler, path: string, init: RequestInit = {}, host = SESSION_HOST, env = bindings().env) {
  const headers = new Headers(init.headers);
  headers.set("host", host);
  return entry.fetch(new Request(`http://${host}${path}`, { ...init, headers, duplex: "half" } as RequestInit), env);
}

/** The target's answer: a head, then the body in one frame (none when undefined). */
function answer(stream: MuxStream, status: number, headers: HeaderList, body?: string | Uint8Array<ArrayBuffer>) {
  const bytes = typeof body === "string" ? text.encode(body) : body;
  stream.sendHead(FrameKind.ResponseHead, { status, headers }, bytes === undefined);
  if (bytes !== undefined) stream.sendWhole(bytes);
}

const values = (headers: HeaderList, name: string) => headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
const names = (headers: HeaderList) => headers.map(([n]) => n.toLowerCase());

describe("public URLs", () => {
  test("the port is left out only where the scheme implies it", () => {
    const url = (scheme: string, port: string) => startEntry(["--public-scheme", scheme, "--public-port", port]).entry.publicUrl("s");
    expect(url("https", "443")).toBe(`https://s.${DOMAIN}`);
    expect(url("http", "80")).toBe(`http://s.${DOMAIN}`);
    expect(url("https", "80")).toBe(`https://s.${DOMAIN}:80`);
    expect(url("http", "443")).toBe(`http://s.${DOMAIN}:443`);
    expect(url("http", "8080")).toBe(`http://s.${DOMAIN}:8080`);
  });
});

describe("createEntryApp() control plane", () => {
  test("/healthz answers ok, and 503 once the entry drains", async () => {
    const { entry, state } = startEntry();
    const ok = await visit(entry, "/healthz", {}, DOMAIN);
    expect([ok.status, await ok.text()]).toEqual([200, "ok"]);
    state.draining = true;
    const draining = await visit(entry, "/healthz", {}, DOMAIN);
    expect([draining.status, await draining.text()]).toEqual([503, "draining"]);
  });

  test("without DASHBOARD_TOKEN /metrics and /api/sessions are open; an unknown path is a 404", async () => {
    const { entry } = startEntry();
    const metrics = await visit(entry, "/metrics", {}, DOMAIN);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    expect(await metrics.text()).toContain("# TYPE tunnel2_requests_total counter");
    const sessions = await visit(entry, "/api/sessions", {}, DOMAIN);
    expect(await sessions.json()).toEqual({ sessions: [], unknownSessions: { requests: 0, lastMinute: expect.anything() } });
    const missing = await visit(entry, "/nothing-here", {}, DOMAIN);
    expect([missing.status, await missing.text()]).toEqual([404, "Not found: /nothing-here\n"]);
  });

  test("DASHBOARD_TOKEN guards /metrics and /api/sessions (Bearer, or Basic with any user), not /healthz", async () => {
    const { entry } = startEntry([], { DASHBOARD_TOKEN: "s3cret" });
    const get = (path: string, authorization?: string) =>
      visit(entry, path, { headers: authorization ? { authorization } : {} }, DOMAIN).then((r) => r.status);
    const refused = await visit(entry, "/metrics", {}, DOMAIN);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Basic realm="tunnel2"');
    expect(await get("/api/sessions")).toBe(401);
    expect(await get("/metrics", "Bearer wrong")).toBe(401);
    expect(await get("/metrics", "Bearer s3cret-and-more")).toBe(401);
    expect(await get("/metrics", "Basic !!not base64!!")).toBe(401);
    expect(await get("/metrics", `Basic ${btoa("anyone:wrong")}`)).toBe(401);
    expect(await get("/metrics", "Bearer s3cret")).toBe(200);
    expect(await get("/api/sessions", `Basic ${btoa("anyone:s3cret")}`)).toBe(200);
    expect(await get("/healthz")).toBe(200);
  });

  test("/api/sessions lists a connected session with its public URL and uplink, and drops it once the uplink closes", async () => {
    const { entry, registry } = startEntry();
    const client = await connectClient(entry, () => {});
    expect(client.welcome?.url).toBe(`http://${SESSION_HOST}:8080`);
    const listed = await (await visit(entry, "/api/sessions", {}, DOMAIN)).json();
    expect(listed.sessions).toHaveLength(1);
    expect(listed.sessions[0]).toMatchObject({ name: "demo", url: `http://${SESSION_HOST}:8080`, webSockets: 0 });
    expect(listed.sessions[0].uplinks).toEqual([expect.objectContaining({ id: client.welcome?.uplinkId, activeStreams: 0 })]);
    client.socket.close(1000, "bye");
    await until(() => registry.get("demo") === undefined, "the session to go");
    expect((await (await visit(entry, "/api/sessions", {}, DOMAIN)).json()).sessions).toEqual([]);
  });

  test("announced URLs take TUNNEL_PUBLIC_PORT and the scheme: no port for 443", async () => {
    const { entry } = startEntry(["--public-port", "443", "--public-scheme", "https"]);
    const client = await connectClient(entry, () => {});
    expect(client.welcome?.url).toBe(`https://${SESSION_HOST}`);
  });

  test("a session Host with no client connected gets 502; a Host naming no session reaches the control plane", async () => {
    const { entry } = startEntry();
    const nobody = await visit(entry, "/", {}, `nobody.${DOMAIN}`);
    expect(nobody.status).toBe(502);
    expect(nobody.headers.get("x-tunnel2-error")).toBe("502");
    expect(await nobody.text()).toBe('Bad gateway: no tunnel client is connected for session "nobody"\n');
    // Not a session label (a dot in it, an underscore): the control plane, which has no such page.
    expect((await visit(entry, "/x", {}, `a.b.${DOMAIN}`)).status).toBe(404);
    expect((await visit(entry, "/x", {}, `bad_label.${DOMAIN}`)).status).toBe(404);
    expect((await visit(entry, "/healthz", {}, "elsewhere.example")).status).toBe(200);
  });

  test("a Host that is not a host name, or an absolute-form target naming another host, gets 400", async () => {
    const { entry } = startEntry();
    const env = bindings().env;
    for (const host of ["demo.tunnel.test:99999", "user@demo.tunnel.test", "demo.tunnel.test/path", "demo tunnel"]) {
      const request = new Request(`http://${SESSION_HOST}/`, { headers: { host } });
      expect({ host, status: (await entry.fetch(request, env)).status }).toEqual({ host, status: 400 });
    }
    const misrouted = new Request(`http://other.${DOMAIN}/metrics`, { headers: { host: SESSION_HOST } });
    const refused = await entry.fetch(misrouted, env);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("absolute-form");
  });

  test("x-tunnel2-peer from a visitor gets 403 outside a cluster; a cluster entry not yet joined answers 502 not-held", async () => {
    const alone = startEntry().entry;
    for (const host of [SESSION_HOST, DOMAIN]) {
      const forged = await visit(alone, "/", { headers: { [PEER_FROM]: "e9", [PEER_SIGNATURE]: "1.ab" } }, host);
      expect(forged.status).toBe(403);
      expect(await forged.text()).toContain("x-tunnel2-peer headers are accepted only between entries of a cluster");
    }
    const joining = startEntry([], { REDIS_URL: "redis://127.0.0.1:1", TUNNEL_SECRET: "s", TUNNEL_INSTANCE_ID: "e1" }).entry;
    const starting = await visit(joining, "/", { headers: { [PEER_FROM]: "e9" } });
    expect(starting.status).toBe(502);
    expect(starting.headers.get(PEER_NOT_HELD)).toBe("e1");
  });

  test("the uplink endpoint: 426 when not an upgrade, 503 while draining, 400 for a bad session name", async () => {
    const { entry, state } = startEntry();
    const plain = await entry.fetch(new Request(`http://${DOMAIN}${CONNECT_PATH}`, { headers: { host: DOMAIN } }), bindings().env);
    expect(plain.status).toBe(426);
    const badName = await connectClient(entry, () => {}, "demo", { [UPLINK_SESSION_HEADER]: "Not_A_Name" });
    expect(badName.upgraded.status).toBe(400);
    state.draining = true;
    expect((await connectClient(entry, () => {})).upgraded.status).toBe(503);
  });

  test("with TUNNEL_SECRET the upgrade needs the session's token: none or a wrong one 401, the right one is welcomed", async () => {
    const { entry, registry } = startEntry([], { TUNNEL_SECRET: "k" });
    expect((await connectClient(entry, () => {})).upgraded.status).toBe(401);
    const wrong = await connectClient(entry, () => {}, "demo", { [UPLINK_SESSION_HEADER]: "demo", authorization: `Bearer ${"0".repeat(64)}` });
    expect(wrong.upgraded.status).toBe(401);
    const token = await sessionToken("k", "demo");
    const right = await connectClient(entry, () => {}, "demo", { [UPLINK_SESSION_HEADER]: "demo", authorization: `Bearer ${token}` });
    expect(right.welcome?.uplinkId).toBeString();
    expect(registry.pick("demo")).toBeDefined();
    // A hello naming another session than the token's is closed, never registered.
    const other = await connectClient(entry, () => {}, "other", { [UPLINK_SESSION_HEADER]: "demo", authorization: `Bearer ${token}` })
      .catch((err: Error) => err);
    expect(other).toBeInstanceOf(Error);
    expect(registry.get("other")).toBeUndefined();
  });
});

describe("createEntryApp() data plane through an uplink", () => {
  test("the target gets the visitor's head with X-Forwarded-*, and no Host, x-tunnel2-*, address claims or hop-by-hop headers", async () => {
    const { entry } = startEntry();
    const heads: RequestHead[] = [];
    await connectClient(entry, (stream, head) => {
      heads.push(head);
      answer(stream, 204, []);
    });
    const response = await visit(entry, "/path/x?q=1&r=%20", {
      headers: {
        "x-forwarded-for": "198.51.100.1",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "gopher",
        forwarded: "for=6.6.6.6",
        "x-real-ip": "6.6.6.6",
        "fly-client-ip": "6.6.6.6",
        [PEER_HOST]: "other.tunnel.test",
        [PEER_FOR]: "6.6.6.6",
        [PEER_TARGET]: "/admin",
        [PEER_NOT_HELD]: "e1",
        connection: "keep-alive, x-hop",
        "x-hop": "1",
        "keep-alive": "timeout=5",
        "x-kept": "yes",
        "content-length": "12", // a GET sends no body: the head must not announce one
      },
    });
    expect(response.status).toBe(204);
    expect(heads).toHaveLength(1);
    const head = heads[0];
    expect([head.method, head.target]).toEqual(["GET", "/path/x?q=1&r=%20"]);
    expect(values(head.headers, "x-forwarded-for")).toEqual([`198.51.100.1, ${VISITOR}`]);
    expect(values(head.headers, "x-forwarded-host")).toEqual([SESSION_HOST]);
    expect(values(head.headers, "x-forwarded-proto")).toEqual(["http"]);
    expect(values(head.headers, "x-kept")).toEqual(["yes"]);
    const sent = names(head.headers);
    for (const name of ["host", "forwarded", "x-real-ip", "fly-client-ip", "connection", "x-hop", "keep-alive", "content-length"]) {
      expect(sent).not.toContain(name);
    }
    expect(sent.filter((name) => name.startsWith("x-tunnel2-"))).toEqual([]);
  });

  test("the visitor gets the target's status, its headers without Fly-*, its body, and cookies held to the session", async () => {
    const { entry } = startEntry();
    await connectClient(entry, (stream) =>
      answer(stream, 201, [
        ["content-type", "text/plain"],
        ["content-length", "5"],
        ["fly-replay", "app=other"],
        ["Fly-Request-Id", "x"],
        ["x-target", "1"],
        ["set-cookie", "a=1; Domain=tunnel.test; Path=/"],
        ["set-cookie", `b=2; Domain=${SESSION_HOST}`],
      ], "hello"));
    const response = await visit(entry, "/");
    expect(response.status).toBe(201);
    expect(await response.text()).toBe("hello");
    expect(response.headers.get("content-length")).toBe("5");
    expect(response.headers.get("x-target")).toBe("1");
    expect([...response.headers.keys()].filter((name) => name.startsWith("fly-"))).toEqual([]);
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", `b=2; Domain=${SESSION_HOST}`]);
  });

  test("a POST body reaches the target with its length, and the target's answer comes back", async () => {
    const { entry } = startEntry();
    const heads: RequestHead[] = [];
    await connectClient(entry, async (stream, head) => {
      heads.push(head);
      const body = new Uint8Array(await new Response(stream.body).arrayBuffer());
      answer(stream, 200, [["content-length", String(body.byteLength)]], body.reverse());
    });
    const response = await visit(entry, "/upload", { method: "POST", body: "abc", headers: { "content-length": "3" } });
    expect([response.status, await response.text()]).toEqual([200, "cba"]);
    expect(heads[0].method).toBe("POST");
    expect(values(heads[0].headers, "content-length")).toEqual(["3"]);
  });

  test("a body without a length is streamed: the visitor reads the first piece before the target sends the rest", async () => {
    const { entry } = startEntry();
    const rest = Promise.withResolvers<void>();
    await connectClient(entry, async (stream) => {
      stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [["content-type", "text/event-stream"]] }, false);
      await stream.sendBytes(text.encode("one "));
      await rest.promise;
      await stream.sendBytes(text.encode("two"));
      stream.sendEnd();
    });
    const { env, idle } = bindings();
    const response = await visit(entry, "/events", {}, SESSION_HOST, env);
    expect(response.headers.get("content-length")).toBeNull();
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("one ");
    // The idle timeout stays lifted while the body is still coming.
    expect(idle).toEqual({ suspended: 1, resumed: 0 });
    rest.resolve();
    let tail = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) tail += new TextDecoder().decode(chunk.value);
    expect(tail).toBe("two");
    expect(idle).toEqual({ suspended: 1, resumed: 1 });
  });

  test("a body larger than one frame, with its length, arrives whole", async () => {
    const { entry } = startEntry();
    const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    await connectClient(entry, async (stream) => {
      stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [["content-length", String(big.byteLength)]] }, false);
      await stream.sendBody(new Response(big).body!);
    });
    const response = await visit(entry, "/big");
    expect(response.headers.get("content-length")).toBe(String(big.byteLength));
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(big);
  });

  test("a body shorter than its Content-Length gets 502, not a short 200", async () => {
    const { entry } = startEntry();
    await connectClient(entry, (stream) => answer(stream, 200, [["content-length", "10"]], "hello"));
    const response = await visit(entry, "/");
    expect(response.status).toBe(502);
    expect(await response.text()).toBe('Bad gateway: session "demo" sent 5 of 10 body bytes\n');
  });

  test("MAX_BODY_BYTES: a declared length over it gets 413 before any stream; a streamed body over it gets 413", async () => {
    const { entry } = startEntry(["--max-body-bytes", "10"]);
    const resets: StreamResetError[] = [];
    let streams = 0;
    await connectClient(entry, (stream) => {
      streams++;
      stream.onReset = (err) => resets.push(err);
    });
    const declared = await visit(entry, "/", { method: "POST", body: "x".repeat(11), headers: { "content-length": "11" } });
    expect(declared.status).toBe(413);
    expect(await declared.text()).toBe("Payload too large: request bodies are limited to 10 bytes\n");
    expect(streams).toBe(0);
    const chunks = [new Uint8Array(8), new Uint8Array(8)];
    const body = new ReadableStream<Uint8Array>({ pull: (c) => void (chunks.length ? c.enqueue(chunks.shift()!) : c.close()) });
    const streamed = await visit(entry, "/", { method: "POST", body });
    expect(streamed.status).toBe(413);
    await until(() => resets.length === 1, "the client's stream to be reset");
    expect(resets[0].code).toBe(ResetCode.TooLarge);
  });

  test("REQUEST_TIMEOUT_MS: a client that never answers gets 504, and its stream is reset", async () => {
    const { entry } = startEntry(["--request-timeout-ms", "100"]);
    const resets: StreamResetError[] = [];
    await connectClient(entry, (stream) => {
      stream.onReset = (err) => resets.push(err);
    });
    const started = Date.now();
    const { env, idle } = bindings();
    const response = await visit(entry, "/slow", {}, SESSION_HOST, env);
    expect(response.status).toBe(504);
    expect(await response.text()).toBe('Gateway timeout: the tunnel client of session "demo" sent no response in time\n');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(idle).toEqual({ suspended: 1, resumed: 1 });
    await until(() => resets.length === 1, "the client's stream to be reset");
    expect(resets[0].code).toBe(ResetCode.Timeout);
  });

  test("draining: session requests get 503 and open no stream; /healthz says draining", async () => {
    const { entry, state, registry } = startEntry();
    let streams = 0;
    await connectClient(entry, (stream) => {
      streams++;
      answer(stream, 200, [], "");
    });
    state.draining = true;
    const response = await visit(entry, "/");
    expect(response.status).toBe(503);
    expect(await response.text()).toBe("Service unavailable: the tunnel entry is shutting down\n");
    expect(streams).toBe(0);
    expect(registry.pick("demo")).toBeDefined(); // the uplink stays for the streams in flight
  });

  test("an uplink lost mid-request gets 502 Uplink lost, and the session is gone", async () => {
    const { entry, registry } = startEntry();
    const client = await connectClient(entry, () => client.socket.close(1001, "client went away"));
    const response = await visit(entry, "/");
    expect(response.status).toBe(502);
    expect(await response.text()).toContain("Uplink lost");
    await until(() => registry.get("demo") === undefined, "the session to go");
  });

  test("a 101 answer to a plain request gets 502; a target's reset gets the status its code maps to", async () => {
    const { entry } = startEntry();
    await connectClient(entry, (stream, head) => {
      if (head.target === "/upgrade") answer(stream, 101, []);
      else stream.reset(ResetCode.TargetUnreachable, "connect ECONNREFUSED 127.0.0.1:3000");
    });
    const upgraded = await visit(entry, "/upgrade");
    expect(upgraded.status).toBe(502);
    expect(await upgraded.text()).toContain("answered 101 to a plain request");
    const unreachable = await visit(entry, "/down");
    expect(unreachable.status).toBe(502);
    // The target's address stays in the client's log.
    expect(await unreachable.text()).toBe('Bad gateway: the target of session "demo" could not be reached\n');
  });

  test("TRACE is refused with 405 before any stream opens", async () => {
    const { entry } = startEntry();
    let streams = 0;
    await connectClient(entry, () => void streams++);
    const response = await visit(entry, "/", { method: "TRACE" });
    expect(response.status).toBe(405);
    expect(streams).toBe(0);
  });

  test("requests are counted per session in /metrics", async () => {
    const { entry } = startEntry();
    await connectClient(entry, (stream) => answer(stream, 200, [["content-length", "2"]], "ok"));
    for (let i = 0; i < 3; i++) await (await visit(entry, "/")).text();
    const metrics = await (await visit(entry, "/metrics", {}, DOMAIN)).text();
    expect(metrics).toContain('tunnel2_requests_total{session="demo",class="2xx"} 3');
    expect(metrics).toContain('tunnel2_uplinks{session="demo"} 1');
  });

  test("TRUST_PROXY: the address and chain come from the proxy in front", async () => {
    const { entry } = startEntry(["--trust-proxy", "1"]);
    const heads: RequestHead[] = [];
    await connectClient(entry, (stream, head) => {
      heads.push(head);
      answer(stream, 204, []);
    });
    await visit(entry, "/", { headers: { "x-forwarded-for": "198.51.100.1, 192.0.2.4" } });
    await visit(entry, "/", { headers: { "fly-client-ip": "192.0.2.9", "x-forwarded-for": "192.0.2.9" } });
    expect(heads.map((h) => values(h.headers, "x-forwarded-for"))).toEqual([["198.51.100.1, 192.0.2.4"], ["192.0.2.9"]]);
    expect(heads.map((h) => names(h.headers).includes("fly-client-ip"))).toEqual([false, false]);
  });
});
