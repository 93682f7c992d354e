/**
 * End to end: sessions people can rely on — token auth, several uplinks,
 * reconnects, graceful drain, limits, bad frames — with real processes.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { FrameKind } from "../src/protocol/constants.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { encodeJson } from "../src/protocol/head.ts";
import { sessionToken } from "../src/entry/session-token.ts";
import { startTarget } from "./helpers/target-server.ts";
import { command, peakRssMiB, type Runtime, runToEnd, spawnUntil, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { openRawUplink } from "./helpers/raw-uplink.ts";
import { connect } from "node:net";
import { encodeClientFrame, Opcode } from "../src/protocol/rfc6455.ts";
import { slowDownload, visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(() => stopAll());
afterAll(() => target.stop());

async function statuses(port: number, session: string, path: string, n: number): Promise<number[]> {
  return await Promise.all(Array.from({ length: n }, () => visit(port, session, path).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  }, () => 0)));
}

const SECRET = "test-secret-4f1c";

describe.each(["bun", "deno"] as Runtime[])("on %s", (runtime) => {
  test("a wrong token is refused with a clear message and cannot take over the session", async () => {
    const entry = await startEntry(runtime, { TUNNEL_SECRET: SECRET });
    const token = await sessionToken(SECRET, "owned");
    await startClient(runtime, entry, "owned", targetUrl, ["--token", token]);
    const traffic = (async () => {
      const all: number[] = [];
      for (let i = 0; i < 20; i++) all.push(...await statuses(entry.port, "owned", "/echo", 5));
      return all;
    })();
    const impostor = await runToEnd(runtime, "src/client.ts", [
      "--server", `http://127.0.0.1:${entry.port}`, "--session", "owned", "--token", "f".repeat(64), "--to", targetUrl,
    ]);
    expect(impostor.code).toBe(1);
    expect(impostor.stderr).toContain('Refused by the entry: Invalid token for session "owned"');
    expect(impostor.stderr).not.toContain("    at "); // no stack trace
    expect((await traffic).every((s) => s === 200)).toBe(true);
    // Tokens never reach logs.
    expect(entry.output()).not.toContain(token);
    expect(entry.output()).not.toContain("f".repeat(64));
  }, 30_000);

  test("killing one of two uplinks mid-load ends only its streams, fast; the session stays up", async () => {
    const entry = await startEntry(runtime);
    const a = await startClient(runtime, entry, "pair", targetUrl, ["--uplinks", "1"]);
    await startClient(runtime, entry, "pair", targetUrl, ["--uplinks", "1"]);
    const started = Date.now();
    const pending = Array.from({ length: 100 }, () => {
      const t0 = Date.now();
      return visit(entry.port, "pair", "/slow-head?ms=1500").then(async (r) => ({ status: r.status, ms: Date.now() - t0, body: await r.text() }));
    });
    await Bun.sleep(400);
    a.proc.kill("SIGKILL");
    const results = await Promise.all(pending);
    const failed = results.filter((r) => r.status !== 200);
    const served = results.filter((r) => r.status === 200);
    // Streams spread by least in-flight: about half were on the killed uplink.
    expect(failed.length).toBeGreaterThan(20);
    expect(failed.length).toBeLessThan(80);
    expect(served.length).toBe(100 - failed.length);
    for (const f of failed) {
      expect(f.status).toBe(502);
      expect(f.body).toContain("Uplink lost");
      expect(f.ms).toBeLessThan(400 + 2500);
    }
    expect(Date.now() - started).toBeLessThan(5000);
    // New requests go to the remaining uplink with no error.
    expect(new Set(await statuses(entry.port, "pair", "/echo", 50))).toEqual(new Set([200]));
  }, 30_000);

  test("the client comes back on its own when the entry restarts", async () => {
    const first = await startEntry(runtime);
    const port = first.port;
    await startClient(runtime, first, "phoenix", targetUrl);
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    const restarted = await spawnUntilEntryOn(runtime, port);
    const ms = await eventually(async () => {
      const t0 = Date.now();
      const r = await visit(port, "phoenix", "/echo");
      return r.status === 200 ? Date.now() - t0 : undefined;
    }, 10_000, 100);
    expect(ms).toBeLessThan(1000);
    expect(restarted.output()).toContain("uplink connected");
  }, 30_000);

  test("SIGTERM drains: the slow request in flight completes, new ones get 503, the entry exits 0", async () => {
    const entry = await startEntry(runtime, { DRAIN_TIMEOUT_MS: "5000" });
    await startClient(runtime, entry, "drainme", targetUrl);
    const slow = visit(entry.port, "drainme", "/slow-head?ms=1500").then(async (r) => ({ status: r.status, body: await r.text() }));
    await Bun.sleep(300);
    entry.proc.kill("SIGTERM");
    await Bun.sleep(200);
    const health = await fetch(`http://127.0.0.1:${entry.port}/healthz`);
    expect(health.status).toBe(503);
    expect((await visit(entry.port, "drainme", "/echo")).status).toBe(503);
    expect(await slow).toEqual({ status: 200, body: "late" });
    expect(await entry.proc.exited).toBe(0);
    expect(entry.output()).toContain("drained");
  }, 30_000);
});

/** Resolves once the entry on `port` has a stream in flight. */
async function streamInFlight(port: number): Promise<void> {
  await eventually(async () => {
    const { sessions } = await (await fetch(`http://127.0.0.1:${port}/api/sessions`)).json();
    return sessions[0]?.uplinks.some((u: { activeStreams: number }) => u.activeStreams > 0) ? true : undefined;
  });
}

describe.each(["bun", "deno"] as Runtime[])("drain on %s", (runtime) => {

  test("a download still being written when the signal comes arrives whole; abandoned=0 is true", async () => {
    const entry = await startEntry(runtime, { DRAIN_TIMEOUT_MS: "15000" });
    await startClient(runtime, entry, "drain-dl", targetUrl);
    // 96 MiB at 32 MiB/s: about 3 s, the signal after the first bytes; more than the
    // kernel's buffers hold (see below), so the entry must keep writing through the drain.
    const total = 96 * 1024 * 1024;
    const download = slowDownload(entry.port, "drain-dl", total, "32M");
    await streamInFlight(entry.port);
    entry.proc.kill("SIGINT");
    expect(await download).toEqual({ received: total, code: 0 });
    expect(await entry.proc.exited).toBe(0);
    expect(entry.output()).toContain("drained abandoned=0");
  }, 30_000);

  test("an open dashboard feed ends with the drain instead of holding the entry to its timeout", async () => {
    const entry = await startEntry(runtime, { DRAIN_TIMEOUT_MS: "60000" });
    const feed = (await fetch(`http://127.0.0.1:${entry.port}/api/live`)).body!.getReader();
    await feed.read(); // the history: the reader is counted
    entry.proc.kill("SIGTERM");
    while (!(await feed.read()).done);
    expect(await entry.proc.exited).toBe(0);
    expect(entry.output()).toContain("drained abandoned=0");
  }, 20_000);

  test("a download that outlasts the drain timeout is cut, and counted as abandoned", async () => {
    const entry = await startEntry(runtime, { DRAIN_TIMEOUT_MS: "800" });
    await startClient(runtime, entry, "drain-cut", targetUrl);
    // Bytes the entry handed to the kernel still arrive after it exits: curl's receive buffer
    // grows to tcp_rmem's max (32 MiB here) plus 4 MiB of send buffer. 128 MiB at 16 MiB/s
    // (8 s whole) cannot fit in what 800 ms plus those buffers deliver (about 50 MiB).
    const cutTotal = 128 * 1024 * 1024;
    const download = slowDownload(entry.port, "drain-cut", cutTotal, "16M");
    await streamInFlight(entry.port);
    entry.proc.kill("SIGINT");
    const { received, code } = await download;
    expect(code).not.toBe(0);
    expect(received).toBeLessThan(cutTotal);
    expect(await entry.proc.exited).toBe(0);
    expect(entry.output()).toMatch(/drain timed out abandoned=[1-9]/);
  }, 30_000);
});

/** Sends an uplink upgrade with `headers`, then `after` at once, and resolves with what came back once the entry closed. */
function upgradeThenSend(port: number, headers: string, after: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    socket.on("error", () => {});
    socket.on("data", (d) => (answer += d.toString("latin1")));
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => {
      socket.write(
        `GET /_tunnel/connect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n`,
      );
      socket.end(after);
    });
  });
}

describe.each(["bun", "deno"] as Runtime[])("uplinks checked at the upgrade (entry on %s)", (runtime) => {
  test("with a secret, a stranger gets 401 and no WebSocket: 8 sending 64 MiB each leave the entry's memory flat", async () => {
    const entry = await startEntry(runtime, { TUNNEL_SECRET: SECRET });
    const token = await sessionToken(SECRET, "guarded");
    await expect(openRawUplink(entry.port)).rejects.toThrow(/HTTP\/1\.1 401/);
    await expect(openRawUplink(entry.port, { "x-tunnel2-session": "guarded", authorization: `Bearer ${"0".repeat(64)}` }))
      .rejects.toThrow(/HTTP\/1\.1 401/);
    await expect(openRawUplink(entry.port, { "x-tunnel2-session": "other", authorization: `Bearer ${token}` }))
      .rejects.toThrow(/HTTP\/1\.1 401/);
    const owner = await openRawUplink(entry.port, { "x-tunnel2-session": "guarded", authorization: `Bearer ${token}` });
    owner.socket.destroy();
    // A message before hello: with the upgrade refused it is never assembled (it was, 64 MiB each, before).
    const big = encodeClientFrame(Opcode.Binary, new Uint8Array(64 * 1024 * 1024));
    const before = await peakRssMiB(entry.proc.pid);
    const answers = await Promise.all(Array.from({ length: 8 }, () => upgradeThenSend(entry.port, "", big)));
    const grown = await peakRssMiB(entry.proc.pid) - before;
    for (const answer of answers) {
      expect(answer).toStartWith("HTTP/1.1 401");
      expect(answer).toContain("needs the session's token on the uplink's upgrade");
    }
    console.log(`entry on ${runtime}: peak RSS grew ${grown.toFixed(0)} MiB for 8 strangers sending 64 MiB each`);
    expect(grown).toBeLessThan(64);
    expect(entry.output()).toContain("uplink refused");
  }, 60_000);

  test("MAX_UPLINKS_PER_SESSION: one more is refused with a clear reason; that client keeps trying, the session keeps serving", async () => {
    const entry = await startEntry(runtime, { MAX_UPLINKS_PER_SESSION: "2" });
    await startClient(runtime, entry, "capped", targetUrl, ["--uplinks", "2"]);
    const extra = await spawnUntil(
      [...command(runtime, "src/client.ts"), "--server", `http://127.0.0.1:${entry.port}`, "--session", "capped", "--token", "t", "--to", targetUrl, "--uplinks", "1"],
      {},
      /Too many uplinks[^\n]*MAX_UPLINKS_PER_SESSION/,
    );
    expect(extra.proc.exitCode).toBeNull(); // retries with backoff rather than giving up
    expect(new Set(await statuses(entry.port, "capped", "/echo", 20))).toEqual(new Set([200]));
    const { sessions } = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
    expect(sessions[0].uplinks.length).toBe(2);
    // A hello that names the session without the upgrade header is held to the limit too.
    const raw = await openRawUplink(entry.port);
    raw.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({ session: "capped", token: "t", window: 262144 })));
    expect(await eventually(() => raw.closeCode())).toBe(4004);
    expect(entry.output()).toContain("too_many_uplinks");
  }, 30_000);
});

/** Starts an entry on a given port (after a restart), retrying while the port is still held. */
async function spawnUntilEntryOn(runtime: Runtime, port: number) {
  return await eventually(() => startEntry(runtime, { PORT: String(port) }), 10_000, 100);
}

describe("limits and bad input (entry on Bun)", () => {
  test("garbage frames close only that socket; the session's real uplinks keep serving", async () => {
    const entry = await startEntry("bun");
    await startClient("bun", entry, "solid", targetUrl);
    const closes: { code: number; reason: string }[] = [];
    for (const garbage of [Uint8Array.of(9, 9, 9), encodeFrame(FrameKind.Data, 0, 77, Uint8Array.of(1))]) {
      const ws = new WebSocket(`ws://127.0.0.1:${entry.port}/_tunnel/connect`);
      ws.binaryType = "arraybuffer";
      const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
      ws.onopen = () => ws.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({ session: "solid", token: "x", window: 262144 })));
      ws.onmessage = () => ws.send(garbage); // after Welcome: a frame that makes no sense
      closes.push(await closed);
      expect(new Set(await statuses(entry.port, "solid", "/echo", 20))).toEqual(new Set([200]));
    }
    expect(closes.map((c) => c.code)).toEqual([4002, 4002]);
    expect(closes[0].reason).toContain("Protocol error");
    expect(entry.output()).toContain("uplink protocol error");
  });

  test("bodies over MAX_BODY_BYTES get 413, declared or streamed", async () => {
    const entry = await startEntry("bun", { MAX_BODY_BYTES: "1000" });
    await startClient("bun", entry, "small", targetUrl);
    expect((await visit(entry.port, "small", "/upload", { method: "POST", body: new Uint8Array(999) })).status).toBe(200);
    const declared = await visit(entry.port, "small", "/upload", { method: "POST", body: new Uint8Array(1001) });
    expect(declared.status).toBe(413);
    let sent = 0;
    const streamed = await visit(entry.port, "small", "/echo", {
      method: "POST",
      body: new ReadableStream({
        async pull(c) {
          if (sent >= 5) return c.close();
          sent++;
          await Bun.sleep(20);
          c.enqueue(new Uint8Array(400));
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  test("MAX_STREAMS_PER_SESSION: the next request gets 503", async () => {
    const entry = await startEntry("bun", { MAX_STREAMS_PER_SESSION: "5" });
    await startClient("bun", entry, "narrow", targetUrl);
    const results = await statuses(entry.port, "narrow", "/slow-head?ms=500", 8);
    expect(results.filter((s) => s === 200).length).toBe(5);
    expect(results.filter((s) => s === 503).length).toBe(3);
  });

  test("429 at the configured rate, with Retry-After and RateLimit headers; tiers override", async () => {
    const tiers = JSON.stringify({ tiers: { vip: { rps: null }, slow: { rps: 5, burst: 2 } }, sessions: { vip: "vip", crawl: "slow" } });
    const entry = await startEntry("bun", { RATE_LIMIT_RPS: "20", RATE_LIMIT_BURST: "10", TUNNEL_TIERS: tiers });
    for (const s of ["metered", "vip", "crawl"]) await startClient("bun", entry, s, targetUrl);
    // Bursts of concurrent requests, so attempts always outnumber what the bucket admits,
    // however slow the machine; bounds use the time actually elapsed.
    const count = async (session: string, ms: number) => {
      const seen: number[] = [];
      let limited: Response | undefined;
      const started = Date.now();
      while (Date.now() - started < ms) {
        const burst = await Promise.all(Array.from({ length: 10 }, () => visit(entry.port, session, "/echo")));
        for (const r of burst) {
          await r.arrayBuffer();
          seen.push(r.status);
          if (r.status === 429) limited ??= r;
        }
        await Bun.sleep(20);
      }
      const elapsed = (Date.now() - started) / 1000;
      return { ok: seen.filter((s) => s === 200).length, limited: seen.filter((s) => s === 429).length, sample: limited, elapsed };
    };
    const metered = await count("metered", 1000);
    // Burst 10 plus 20 per second of the time that passed.
    expect(metered.ok).toBeLessThanOrEqual(10 + Math.ceil(20 * metered.elapsed) + 1);
    expect(metered.ok).toBeGreaterThanOrEqual(10 + Math.floor(20 * (metered.elapsed - 0.3)));
    expect(metered.limited).toBeGreaterThan(0);
    expect(metered.sample!.headers.get("retry-after")).toBe("1");
    expect(metered.sample!.headers.get("ratelimit-limit")).toBe("20");
    expect(metered.sample!.headers.get("ratelimit-remaining")).toBe("0");
    const crawl = await count("crawl", 1000);
    expect(crawl.ok).toBeLessThanOrEqual(2 + Math.ceil(5 * crawl.elapsed) + 1);
    expect(crawl.ok).toBeGreaterThanOrEqual(2 + Math.floor(5 * (crawl.elapsed - 0.3)));
    const vip = await count("vip", 500);
    expect(vip.limited).toBe(0);
  });

  test("an uplink that goes silent is dropped after silenceMs; its session answers 502 at once", async () => {
    // The uplink's clocks at a 100 ms scale (15 s of silence by default), the same on both sides.
    const timings = { TUNNEL_UPLINK_TIMINGS: JSON.stringify({ pingEveryMs: 100, silenceMs: 400 }) };
    const entry = await startEntry("bun", timings);
    const client = await startClient("bun", entry, "frozen", targetUrl, ["--uplinks", "1"], timings);
    // Pings keep a healthy uplink through many silence periods.
    await Bun.sleep(1200);
    expect((await visit(entry.port, "frozen", "/echo")).status).toBe(200);
    expect(entry.output()).not.toContain("uplink silent");
    client.proc.kill("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      await eventually(async () => {
        const r = await fetch(`http://127.0.0.1:${entry.port}/api/sessions`);
        const { sessions } = await r.json();
        return sessions.length === 0 ? true : undefined;
      }, 5_000, 20);
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(400);
      const t0 = Date.now();
      expect((await visit(entry.port, "frozen", "/echo")).status).toBe(502);
      expect(Date.now() - t0).toBeLessThan(500);
      expect(entry.output()).toContain("uplink silent");
      expect(entry.output()).toContain("No frames for 0.4 s");
    } finally {
      client.proc.kill("SIGCONT");
    }
  }, 20_000);
});
