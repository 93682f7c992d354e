/**
 * End to end: the public edge under hostile input — log escaping,
 * bounded /metrics for unknown sessions, bounded /api/live readers, and the
 * start-up warning when the dashboard is public.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { FrameKind } from "../src/protocol/constants.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { encodeJson } from "../src/protocol/head.ts";
import { connect, type Socket } from "node:net";
import { type Runtime, spawnUntil, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { startTarget } from "./helpers/target-server.ts";
import { visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";
import { chromiumPath, closeBrowsers, openBrowser } from "./helpers/browser.ts";

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(async () => {
  await closeBrowsers();
  await stopAll();
});
afterAll(() => target.stop());

/** Sends `n` requests, `concurrency` at a time, each to a fresh random session host; returns their statuses. */
async function visitRandomSessions(port: number, n: number, concurrency = 50): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  let sent = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (sent < n) {
      sent++;
      const name = `r${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
      const res = await visit(port, name, "/");
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  }));
  return statuses;
}

async function scrape(port: number): Promise<{ text: string; series: string[] }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return { text, series: text.split("\n").filter((l) => l && !l.startsWith("#")) };
}

describe("entry log (Bun)", () => {
  test("a hello whose session name carries terminal escapes is logged escaped", async () => {
    const entry = await startEntry("bun");
    const ws = new WebSocket(`ws://127.0.0.1:${entry.port}/_tunnel/connect`);
    const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    const evil = "x\x1b[2J\x1b]0;owned\x07\r\nFAKE INFO line\x9b31m";
    ws.onopen = () => ws.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({ session: evil, token: "t", window: 262144 })));
    expect(await closed).toBe(4001);
    const line = await eventually(() => entry.output().split("\n").find((l) => l.includes("uplink refused")));
    // deno-lint-ignore no-control-regex
    expect(entry.output()).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/); // only the lines' own \n remain
    expect(line).toContain("\\u001b[2J\\u001b]0;owned\\u0007\\r\\nFAKE INFO line\\u009b31m");
  });
});

describe("start-up warnings (Bun)", () => {
  test("without DASHBOARD_TOKEN the entry says the dashboard, /metrics and /api/* are public; with it, not", async () => {
    const open = await startEntry("bun");
    const warning = await eventually(() => open.output().split("\n").find((l) => l.includes("PUBLIC DASHBOARD")));
    expect(warning).toContain("WARN");
    expect(warning).toContain("DASHBOARD_TOKEN is not set, so the dashboard (/), /metrics and /api/* are open to anyone");
    const guarded = await startEntry("bun", { DASHBOARD_TOKEN: "t0k3n" });
    await eventually(() => guarded.output().includes("OPEN DEVELOPMENT MODE") || undefined);
    await Bun.sleep(200);
    expect(guarded.output()).not.toContain("PUBLIC DASHBOARD");
  });
});

describe.each(["bun", "deno"] as Runtime[])("/metrics under random session hosts, entry on %s", (runtime) => {
  test("2000 requests to unknown sessions add one label, not 2000; a session that left keeps its own", async () => {
    const entry = await startEntry(runtime);
    await startClient("bun", entry, "kept", targetUrl);
    const leaving = await startClient("bun", entry, "left", targetUrl);
    expect((await visit(entry.port, "left", "/echo")).status).toBe(200);
    leaving.proc.kill();
    await eventually(async () => (await scrape(entry.port)).text.includes('tunnel2_uplinks{session="left"}') ? undefined : true, 10_000, 50);
    expect((await visit(entry.port, "left", "/echo")).status).toBe(502);
    const before = await scrape(entry.port);

    const statuses = await visitRandomSessions(entry.port, 2000);
    expect([...statuses]).toEqual([[502, 2000]]);
    expect((await visit(entry.port, "kept", "/echo")).status).toBe(200);

    const after = await scrape(entry.port);
    // Bounded: the unknown hosts added the two request families of one label (18 series), nothing per host.
    expect(after.series.length - before.series.length).toBeLessThanOrEqual(19);
    expect(after.text.length).toBeLessThan(32 * 1024);
    expect(after.text).toContain('tunnel2_requests_total{session="_unknown",class="5xx"} 2000');
    expect(after.text).toContain('tunnel2_request_duration_seconds_count{session="_unknown"} 2000');
    expect(after.text).toContain('tunnel2_requests_total{session="kept",class="2xx"} 1');
    expect(after.text).toContain('tunnel2_requests_total{session="left",class="2xx"} 1');
    expect(after.text).toContain('tunnel2_requests_total{session="left",class="5xx"} 1');
    expect(after.text).not.toMatch(/session="r[0-9a-f]{20}"/);
    const api = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
    expect(api.sessions.map((s: { name: string }) => s.name)).toEqual(["kept"]);
    expect(api.unknownSessions.requests).toBe(2000);
  }, 60_000);
});

/** Opens /api/live and reads up to the end of its first event (the history). */
async function openLive(port: number): Promise<{ status: number; first: string; reader: ReadableStreamDefaultReader<Uint8Array>; close: () => void }> {
  // Closing is an abort: a cancelled body reader alone may leave Bun's fetch reading the connection on.
  const controller = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/api/live`, { signal: controller.signal });
  const reader = res.body!.getReader();
  const close = () => {
    reader.cancel().catch(() => {});
    controller.abort();
  };
  let first = "";
  while (!first.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    first += new TextDecoder().decode(value);
  }
  return { status: res.status, first, reader, close };
}

/** Resident memory of a process in MiB. */
async function rssMiB(pid: number): Promise<number> {
  return Number((await Bun.file(`/proc/${pid}/status`).text()).match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

describe.each(["bun", "deno"] as Runtime[])("/api/live readers, entry on %s", (runtime) => {
  test("at most 32 readers: the 33rd is answered 503, and a reader that leaves frees its place", async () => {
    const entry = await startEntry(runtime);
    const readers = [];
    for (let i = 0; i < 32; i++) readers.push(await openLive(entry.port));
    expect(readers.every((r) => r.status === 200 && r.first.startsWith("event: history\ndata: ["))).toBe(true);
    const refused = await fetch(`http://127.0.0.1:${entry.port}/api/live`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("10");
    expect((await scrape(entry.port)).series).toContain("tunnel2_dashboard_feeds 32");
    expect(await refused.text()).toContain("32 live dashboard feeds are open");
    readers.pop()!.close();
    const again = await eventually(async () => {
      const r = await openLive(entry.port);
      if (r.status === 200) return r;
      r.close();
    }, 5_000, 100);
    expect(again.first).toStartWith("event: history\ndata: [");
    for (const r of [...readers, again]) r.close();
  }, 30_000);

  test("200 readers that never read: 168 refused, and the entry's memory stays bounded", async () => {
    // A point every 100 ms: the history below fills in 2 s, not 20.
    const entry = await startEntry(runtime, { TUNNEL_DASHBOARD_TICK_MS: "100" });
    await spawnUntil(
      [process.execPath, "run", "test/helpers/many-sessions.ts", `http://127.0.0.1:${entry.port}`, targetUrl, "s", "100"],
      {},
      /sessions ready 100/,
      60_000,
    );
    // 20 points of 100 sessions: a history of ~300 KB.
    const history = await eventually(async () => {
      const live = await openLive(entry.port);
      const points: { sessions: unknown[] }[] = live.status === 200 ? JSON.parse(live.first.slice(live.first.indexOf("["))) : [];
      if (points.length >= 20 && points.slice(-20).every((p) => p.sessions.length === 100)) return live;
      live.close();
    }, 30_000, 100);
    expect(history.first.length).toBeGreaterThan(200_000);
    history.close();
    // Every reader the loop above opened has left: all 32 places are free for the sockets below.
    await eventually(async () => ((await scrape(entry.port)).series.includes("tunnel2_dashboard_feeds 0") ? true : undefined), 10_000, 50);
    const before = await rssMiB(entry.proc.pid);
    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const socket = connect(entry.port, "127.0.0.1");
      socket.pause(); // never reads
      socket.on("error", () => {});
      socket.write(`GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${entry.port}\r\n\r\n`);
      sockets.push(socket);
    }
    let peak = 0;
    for (let s = 0; s < 6; s++) {
      await Bun.sleep(500);
      peak = Math.max(peak, await rssMiB(entry.proc.pid));
    }
    const statuses = await Promise.all(sockets.map((socket) =>
      new Promise<string>((resolve) => {
        let head = "";
        socket.on("data", (d) => {
          head += d.toString("latin1");
          if (head.includes("\r\n")) resolve(head.slice(9, 12));
        });
        socket.on("close", () => resolve(head.slice(9, 12) || "closed"));
        socket.resume();
      })
    ));
    for (const socket of sockets) socket.destroy();
    // Before (no bound, a copy of the history per reader) this grew by 81 MiB on Bun and 50 MiB on Deno; now 1-11 MiB.
    expect(peak - before).toBeLessThan(25);
    expect(statuses.filter((s) => s === "200").length).toBe(32);
    expect(statuses.filter((s) => s === "503").length).toBe(168);
  }, 90_000);
});

describe.skipIf(!chromiumPath)("dashboard when the entry refuses its feed (Chromium)", () => {
  test("the page says so and connects once a place is free", async () => {
    const entry = await startEntry("bun");
    const readers = [];
    for (let i = 0; i < 32; i++) readers.push(await openLive(entry.port));
    const page = await (await openBrowser()).newPage();
    await page.goto(`http://127.0.0.1:${entry.port}/`);
    await page.waitForFunction(() => document.getElementById("feed-status")?.textContent?.startsWith("feed refused"), undefined, { timeout: 10_000 });
    readers.pop()!.close();
    await page.waitForSelector("#feed-status.live", { timeout: 15_000 });
    for (const r of readers) r.close();
  }, 40_000);
});
