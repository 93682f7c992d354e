import { describe, expect, test } from "bun:test";
import type { DirectorySnapshot, Peer } from "../entry/entry-cluster.ts";
import { PEER_FOR, PEER_FROM, PEER_HOST, PEER_NOT_HELD, PEER_SIGNATURE, PEER_TARGET } from "../entry/peer-headers.ts";
import { VisitorWebSockets } from "../entry/visitor-web-sockets.ts";
import type { Logger } from "../log.ts";
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { ClusterRouter, MAX_REPLAY_BODY_BYTES, replayable } from "./cluster-router.ts";
import { PeerSigner } from "./peer-signature.ts";
import type { SessionDirectory } from "./session-directory.ts";

const SECRET = "cluster-unit-secret";
const HOST = "demo.tunnel.test";
const silent: Logger = { info() {}, warn() {}, error() {} };

/** A directory in memory: which peers hold which session, and what the router told it. */
class MemoryDirectory implements SessionDirectory {
  holders = new Map<string, Peer[]>();
  calls: string[] = [];
  connected = true;
  hold(session: string) {
    this.calls.push(`hold ${session}`);
  }
  release(session: string) {
    this.calls.push(`release ${session}`);
  }
  locate(session: string) {
    return Promise.resolve(this.holders.get(session) ?? []);
  }
  snapshot(): Promise<DirectorySnapshot | undefined> {
    return Promise.resolve(undefined);
  }
  disown(session: string) {
    this.calls.push(`disown ${session}`);
  }
  forget(session: string, id: string) {
    this.calls.push(`forget ${session} ${id}`);
    this.holders.set(session, (this.holders.get(session) ?? []).filter((p) => p.id !== id));
  }
  knows(session: string) {
    return (this.holders.get(session)?.length ?? 0) > 0;
  }
  close() {
    return Promise.resolve();
  }
}

const env: EntryBindings = {
  remoteAddress: "203.0.113.7",
  upgradeUplink: () => undefined,
  upgradeVisitor: () => undefined,
  suspendIdleTimeout: () => () => {},
};

function answer(status: number, body: string, headers: [string, string][] = []): TargetResponse {
  const bytes = new TextEncoder().encode(body);
  return { status, headers, body: new Response(bytes).body, bytes: () => Promise.resolve(bytes) };
}

/** A router for entry "a" whose other entries answer through `fetchPeer`; what they were sent is kept. */
function router(fetchPeer: (request: TargetRequest, body: string) => TargetResponse | Promise<TargetResponse>, options: { fly?: string; timeoutMs?: number } = {}) {
  const directory = new MemoryDirectory();
  const sent: { request: TargetRequest; body: string }[] = [];
  const r = new ClusterRouter({
    self: { id: "a", url: "http://a.internal:8080" },
    directory,
    signer: PeerSigner.create(SECRET),
    fetchPeer: async (request) => {
      const body = request.body ? await new Response(request.body).text() : "";
      sent.push({ request, body });
      return await fetchPeer(request, body);
    },
    flyMachineId: options.fly,
    requestTimeoutMs: options.timeoutMs ?? 30_000,
    rateLimiter: undefined,
    webSockets: new VisitorWebSockets(),
    log: silent,
  });
  return { r, directory, sent };
}

const visitor = (init: RequestInit & { path?: string } = {}) =>
  new Request(`http://${HOST}${init.path ?? "/x?y=1"}`, { ...init, headers: { host: HOST, ...(init.headers as Record<string, string>) } });
const header = (request: TargetRequest, name: string) => request.headers.find(([n]) => n === name)?.[1];

describe("replayable()", () => {
  test("no body, or a known length up to 1 MB; never chunked", () => {
    expect(replayable(visitor())).toBe(true);
    expect(replayable(visitor({ method: "POST", body: "x".repeat(10), headers: { "content-length": "10" } }))).toBe(true);
    expect(replayable(visitor({ method: "POST", body: "x", headers: { "content-length": String(MAX_REPLAY_BODY_BYTES) } }))).toBe(true);
    expect(replayable(visitor({ method: "POST", body: "x", headers: { "content-length": String(MAX_REPLAY_BODY_BYTES + 1) } }))).toBe(false);
    expect(replayable(visitor({ method: "POST", body: "x", headers: { "transfer-encoding": "chunked" } }))).toBe(false);
    expect(replayable(visitor({ method: "POST", body: "x", headers: { "content-length": "1e3" } }))).toBe(false);
  });
});

describe("ClusterRouter.elsewhere()", () => {
  test("forwards to the holder, signed, with the visitor's host, path, address and body; counts it", async () => {
    const { r, directory, sent } = router(() => answer(201, "made", [["x-from", "b"]]));
    directory.holders.set("demo", [{ id: "b", url: "http://b.internal:8080" }]);
    const res = await r.elsewhere(visitor({ method: "POST", body: "payload", headers: { "content-length": "7", "x-app": "1" } }), HOST, "demo", env, undefined);
    expect([res.status, await res.text(), res.headers.get("x-from")]).toEqual([201, "made", "b"]);
    const { request, body } = sent[0];
    expect([request.url, request.method, body]).toEqual(["http://b.internal:8080/x?y=1", "POST", "payload"]);
    expect([header(request, PEER_FROM), header(request, PEER_HOST), header(request, PEER_TARGET), header(request, PEER_FOR), header(request, "x-app")])
      .toEqual(["a", HOST, "/x?y=1", "203.0.113.7", "1"]);
    expect(header(request, "host")).toBeUndefined();
    // The signature verifies for exactly what was sent, under the shared secret only.
    const signed = { from: "a", method: "POST", host: HOST, target: "/x?y=1", forwardedFor: "203.0.113.7" };
    expect(PeerSigner.create(SECRET).verify(header(request, PEER_SIGNATURE)!, signed)).toBe(true);
    expect(PeerSigner.create("other").verify(header(request, PEER_SIGNATURE)!, signed)).toBe(false);
    expect(r.counts()).toEqual({ replayed: 0, forwarded: 1, received: 0 });
  });

  test("on Fly, a replayable request is answered with fly-replay naming the holder; a big body is forwarded", async () => {
    const { r, directory, sent } = router(() => answer(200, "forwarded"), { fly: "f1" });
    directory.holders.set("demo", [{ id: "m2", url: "http://m2.vm.app.internal:8080" }]);
    const replay = await r.elsewhere(visitor(), HOST, "demo", env, undefined);
    expect([replay.status, replay.headers.get("fly-replay")]).toEqual([409, "instance=m2;timeout=5s;fallback=force_self"]);
    const big = await r.elsewhere(visitor({ method: "POST", body: "x", headers: { "content-length": String(MAX_REPLAY_BODY_BYTES + 1) } }), HOST, "demo", env, undefined);
    expect(big.status).toBe(200);
    // Sent back by Fly (the replay failed): forwarded, not replayed again.
    const failed = await r.elsewhere(visitor({ headers: { "fly-replay-failed": "1" } }), HOST, "demo", env, undefined);
    expect(failed.status).toBe(200);
    expect([sent.length, r.counts()]).toEqual([2, { replayed: 1, forwarded: 2, received: 0 }]);
  });

  test("holders take turns; a stale one is forgotten and the next asked; all unreachable is 502", async () => {
    const { r, directory, sent } = router((request) => {
      if (request.url.startsWith("http://c.")) return answer(502, "", [[PEER_NOT_HELD, "c"]]);
      if (request.url.startsWith("http://d.")) throw new Error("connection refused");
      return answer(200, "b");
    });
    directory.holders.set("demo", [{ id: "b", url: "http://b.internal" }, { id: "c", url: "http://c.internal" }]);
    expect((await r.elsewhere(visitor(), HOST, "demo", env, undefined)).status).toBe(200); // b's turn
    expect((await r.elsewhere(visitor(), HOST, "demo", env, undefined)).status).toBe(200); // c's turn: not held, b next
    expect(sent.map((s) => new URL(s.request.url).hostname)).toEqual(["b.internal", "c.internal", "b.internal"]);
    expect(directory.calls).toContain("forget demo c");
    directory.holders.set("gone", [{ id: "d", url: "http://d.internal" }]);
    const down = await r.elsewhere(visitor(), HOST, "gone", env, undefined);
    expect([down.status, await down.text()]).toEqual([502, 'Bad gateway: the entry holding session "gone" could not be reached, or no longer holds it\n']);
  });

  test("a holder slower than its head timeout is 504", async () => {
    const { r, directory } = router((request) =>
      new Promise((_, reject) => request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))), {
      timeoutMs: -4_950, // the head may take REQUEST_TIMEOUT_MS + 5 s on the other entry: 50 ms here
    });
    directory.holders.set("demo", [{ id: "b", url: "http://b.internal" }]);
    const res = await r.elsewhere(visitor(), HOST, "demo", env, undefined);
    expect([res.status, await res.text()]).toEqual([504, 'Gateway timeout: the entry holding session "demo" sent no answer in time\n']);
  });

  test("held nowhere: 502 naming the session, or saying the directory is down", async () => {
    const { r, directory, sent } = router(() => answer(200, ""));
    expect(await (await r.elsewhere(visitor(), HOST, "nobody", env, undefined)).text()).toBe('Bad gateway: no tunnel client is connected for session "nobody"\n');
    directory.connected = false;
    expect(await (await r.elsewhere(visitor(), HOST, "nobody", env, undefined)).text()).toContain("the session directory (Redis) is unreachable");
    expect(sent).toEqual([]);
  });

  test("a request forwarded here for a session not held here is never forwarded again", async () => {
    const { r, directory, sent } = router(() => answer(200, ""));
    directory.holders.set("demo", [{ id: "b", url: "http://b.internal" }]);
    const res = await r.elsewhere(visitor(), HOST, "demo", env, "b");
    expect([res.status, res.headers.get(PEER_NOT_HELD)]).toEqual([502, "a"]);
    expect(await res.text()).toContain("a request is forwarded at most once");
    expect([sent.length, directory.calls]).toEqual([0, ["disown demo"]]);
  });
});

describe("ClusterRouter.receive()", () => {
  const signer = PeerSigner.create(SECRET);
  const forwarded = (patch: Record<string, string> = {}, signed = { from: "b", method: "GET", host: HOST, target: "/p?q", forwardedFor: "198.51.100.1, 203.0.113.7" }) =>
    new Request("http://a.internal:8080/p?q", {
      headers: {
        [PEER_FROM]: signed.from,
        [PEER_HOST]: signed.host,
        [PEER_TARGET]: signed.target,
        [PEER_FOR]: signed.forwardedFor,
        [PEER_SIGNATURE]: signer.sign(signed),
        "x-app": "1",
        ...patch,
      },
    });

  test("a signed request is rebuilt as the visitor sent it, its address the chain's last", () => {
    const { r } = router(() => answer(200, ""));
    const received = r.receive(forwarded(), env);
    if (received instanceof Response) throw new Error(`refused: ${received.status}`);
    expect(received.request.url).toBe(`http://${HOST}/p?q`);
    expect(received.request.headers.get("host")).toBe(HOST);
    expect(received.request.headers.get("x-app")).toBe("1");
    expect(received.request.headers.get(PEER_SIGNATURE)).toBeNull();
    expect([received.env.remoteAddress, received.env.forwardedFor, received.from]).toEqual(["203.0.113.7", "198.51.100.1, 203.0.113.7", "b"]);
    expect(r.counts().received).toBe(1);
  });

  test("a bad or missing signature, or a changed field, is 403", () => {
    const { r } = router(() => answer(200, ""));
    for (const patch of [{ [PEER_SIGNATURE]: "nope" }, { [PEER_FOR]: "6.6.6.6" }, { [PEER_HOST]: "other.tunnel.test" }, { [PEER_TARGET]: "/admin" }, { [PEER_TARGET]: "http://x/" }]) {
      const refused = r.receive(forwarded(patch), env);
      expect({ patch, status: refused instanceof Response ? refused.status : "accepted" }).toEqual({ patch, status: 403 });
    }
    expect(r.counts().received).toBe(0);
  });
});

describe("ClusterRouter as the registry's listener", () => {
  test("holding and releasing reach the directory; heldElsewhere asks its local view", () => {
    const { r, directory } = router(() => answer(200, ""));
    r.held("demo");
    r.released("demo");
    expect(directory.calls).toEqual(["hold demo", "release demo"]);
    expect(r.heldElsewhere("demo")).toBe(false);
    directory.holders.set("demo", [{ id: "b", url: "http://b" }]);
    expect(r.heldElsewhere("demo")).toBe(true);
  });
});
