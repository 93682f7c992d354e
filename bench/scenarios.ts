/**
 * The benchmark scenarios. Each starts what it needs, measures its systems in
 * one sitting (so ratios are fair on a noisy machine), stops everything, and
 * returns rows plus a markdown table.
 */
import { connect } from "node:net";
import { join } from "node:path";
import { withCpu } from "./lib/cpu.ts";
import { AccessPolicy } from "../src/access/access-policy.ts";
import { refuseByHead } from "../src/entry/access-gate.ts";
import { load, type LoadResult } from "./lib/load-tool.ts";
import {
  direct,
  type EntryPair,
  type Extras,
  hasRedis,
  metricsWorkPerRequestNs,
  peakRss,
  rssMiB,
  type Runtime,
  startEntryPair,
  startProxy,
  startRedis,
  startTarget,
  startTunnel,
  stopAll,
  type System,
} from "./lib/systems.ts";

export interface ScenarioResult {
  name: string;
  rows: Record<string, unknown>[];
  table: string;
  /** Target checks: what was aimed at, what was measured, met or not. */
  checks: { target: string; measured: string; met: boolean }[];
}

export interface ScenarioOptions {
  quick: boolean;
  runtimes: Runtime[];
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "—");
const rpsText = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));

function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

async function closedLoop(system: System, path: string, c: number, seconds: number, headers?: string[]): Promise<LoadResult> {
  return await load({ url: system.url + path, host: system.host, connections: c, seconds, headers });
}

/** 1. The origin analysis's table: 40 ms backend, latency vs concurrency, with the locked-flush baseline. */
export async function origin(o: ScenarioOptions): Promise<ScenarioResult> {
  const concurrency = o.quick ? [1, 50, 1000] : [1, 10, 50, 1000];
  const seconds = o.quick ? 3 : 10;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const systems: (() => Promise<System>)[] = [
    () => Promise.resolve(direct(target.port)),
    ...o.runtimes.map((rt) => () => startTunnel(rt, target.port)),
    () => startTunnel("bun", target.port, "locked-flush"),
  ];
  for (const make of systems) {
    const system = await make();
    for (const c of concurrency) {
      const r = await closedLoop(system, "/delay?ms=40", c, seconds);
      rows.push({ system: system.name, c, ...r });
    }
    await system.stop();
  }
  await stopAll();
  const origin: Record<number, string> = { 1: "~40", 10: "43", 50: "193", 1000: "9438 (mean; 45 % timeouts)" };
  const checks = o.runtimes.map((rt) => {
    const mine = rows.filter((r) => r.system === `tunnel2 ${rt}`) as (LoadResult & { c: number })[];
    const p1 = mine.find((r) => r.c === 1)!.p50;
    const pMax = mine.find((r) => r.c === 1000)!;
    return {
      target: `tunnel2 ${rt}: p50 at c=1000 ≤ 2.5× p50 at c=1, its p99 ≤ 3× its p50, no errors`,
      measured: `${fmt(pMax.p50)} ms vs ${fmt(p1)} ms (${fmt(pMax.p50 / p1, 2)}×), p99 ${fmt(pMax.p99)} ms (${fmt(pMax.p99 / pMax.p50, 2)}× p50), ${pMax.errors} errors`,
      met: pMax.p50 <= 2.5 * p1 && pMax.p99 <= 3 * pMax.p50 && pMax.errors === 0,
    };
  });
  return {
    name: "origin",
    rows,
    checks,
    table: table(
      ["system", "c", "p50 ms", "p99 ms", "max ms", "RPS", "errors", "old system p50 ms", "tool"],
      rows.map((r) => {
        const x = r as unknown as LoadResult & { system: string; c: number };
        return [x.system, x.c, fmt(x.p50), fmt(x.p99), fmt(x.max), rpsText(x.rps), x.errors, origin[x.c] ?? "", x.tool];
      }),
    ),
  };
}

/** 2. Small responses at c=50 and c=1000 against the target, the one-hop proxy and tunnel2. */
export async function throughput(o: ScenarioOptions): Promise<ScenarioResult> {
  const seconds = o.quick ? 3 : 10;
  const concurrency = o.quick ? [50] : [50, 1000];
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const systems: (() => Promise<System>)[] = [
    ...(o.quick ? [] : [() => Promise.resolve(direct(target.port))]),
    () => startProxy(target.port),
    ...o.runtimes.map((rt) => () => startTunnel(rt, target.port)),
  ];
  for (const make of systems) {
    const system = await make();
    for (const c of concurrency) rows.push({ system: system.name, c, ...(await closedLoop(system, "/", c, seconds)) });
    rows.push({ system: system.name, c: "peak RSS MiB", ...(await peakRss(system)) });
    await system.stop();
  }
  await stopAll();
  const get = (name: string, c: number) => rows.find((r) => r.system === name && r.c === c) as LoadResult | undefined;
  const proxy = get("one-hop fetch proxy (Bun)", 50)!;
  const bun = get("tunnel2 bun", 50);
  const deno = get("tunnel2 deno", 50);
  const checks = [];
  if (bun) {
    checks.push({ target: "Bun c=50 ≥ 20k RPS", measured: rpsText(bun.rps), met: bun.rps >= 20_000 });
    checks.push({ target: "Bun c=50 ≥ 0.75× the one-hop proxy", measured: `${fmt(bun.rps / proxy.rps, 2)}× (${rpsText(bun.rps)} vs ${rpsText(proxy.rps)})`, met: bun.rps >= 0.75 * proxy.rps });
  }
  if (bun && deno) checks.push({ target: "Deno ≥ 0.7× Bun at c=50", measured: `${fmt(deno.rps / bun.rps, 2)}×`, met: deno.rps >= 0.7 * bun.rps });
  return {
    name: "throughput",
    rows,
    checks,
    table: table(
      ["system", "c", "RPS", "p50 ms", "p99 ms", "errors", "tool"],
      rows.filter((r) => typeof r.c === "number").map((r) => {
        const x = r as unknown as LoadResult & { system: string; c: number };
        return [x.system, x.c, rpsText(x.rps), fmt(x.p50), fmt(x.p99), x.errors, x.tool];
      }),
    ),
  };
}

/**
 * 3. Fixed arrival rates, as shares of the closed-loop capacity of the same
 * setup (200 connections, measured first): the highest rate held with
 * p99 < 50 ms and no errors is the headline.
 */
export async function openLoop(o: ScenarioOptions): Promise<ScenarioResult> {
  const shares = o.quick ? [0.6, 0.8] : [0.6, 0.7, 0.8, 0.9];
  const seconds = o.quick ? 5 : 15;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  for (const rt of o.runtimes) {
    const system = await startTunnel(rt, target.port);
    const closed = await closedLoop(system, "/", 200, seconds);
    rows.push({ system: system.name, rate: "closed loop", ...closed });
    for (const rate of shares.map((share) => Math.round((share * closed.rps) / 100) * 100)) {
      const r = await load({ url: system.url + "/", host: system.host, connections: 200, seconds, rate });
      rows.push({ system: system.name, rate, ...r });
    }
    await system.stop();
  }
  await stopAll();
  const checks = o.runtimes.map((rt) => {
    const ok = rows.filter((r) => {
      const x = r as unknown as LoadResult & { system: string; rate: number };
      return x.system === `tunnel2 ${rt}` && typeof x.rate === "number" && x.p99 < 50 && x.errors === 0 && x.rps >= 0.95 * x.rate;
    });
    const best = Math.max(0, ...ok.map((r) => r.rate as number));
    const capacity = (rows.find((r) => r.system === `tunnel2 ${rt}` && r.rate === "closed loop") as unknown as LoadResult).rps;
    return {
      target: `tunnel2 ${rt}: open loop held (p99 < 50 ms, no errors) at ≥ 0.8× the closed-loop capacity`,
      measured: `highest clean rate: ${best ? rpsText(best) : "none"} = ${fmt(best / capacity, 2)}× of ${rpsText(capacity)}`,
      met: best >= 0.8 * capacity * 0.99,
    };
  });
  return {
    name: "open-loop",
    rows,
    checks,
    table: table(
      ["system", "offered RPS", "achieved RPS", "p50 ms", "p99 ms", "errors", "tool"],
      rows.map((r) => {
        const x = r as unknown as LoadResult & { system: string; rate: number | string };
        return [x.system, typeof x.rate === "number" ? rpsText(x.rate) : x.rate, rpsText(x.rps), fmt(x.p50), fmt(x.p99), x.errors, x.tool];
      }),
    ),
  };
}

async function curl(args: string[]): Promise<{ speed: number; size: number }> {
  const proc = Bun.spawn(["curl", "-sS", "-o", "/dev/null", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`curl failed: ${await new Response(proc.stderr).text()}`);
  const [speed, size] = out.trim().split(" ").map(Number);
  return { speed: speed / 1024 / 1024, size };
}

/** 4. One 1 GiB download and one 256 MiB upload: MiB/s through the tunnel vs directly. */
export async function bulk(o: ScenarioOptions): Promise<ScenarioResult> {
  const down = o.quick ? 256 * 1024 * 1024 : 1024 * 1024 * 1024;
  const up = o.quick ? 64 * 1024 * 1024 : 256 * 1024 * 1024;
  const file = `/tmp/tunnel2-bench-upload-${up}.bin`;
  if (!(await Bun.file(file).exists())) await Bun.write(file, new Uint8Array(up).fill(7));
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const systems: (() => Promise<System>)[] = [() => Promise.resolve(direct(target.port)), ...o.runtimes.map((rt) => () => startTunnel(rt, target.port))];
  for (const make of systems) {
    const system = await make();
    const d = await curl(["-w", "%{speed_download} %{size_download}", "-H", `Host: ${system.host}`, `${system.url}/bytes?n=${down}`]);
    const u = await curl(["-w", "%{speed_upload} %{size_upload}", "-H", `Host: ${system.host}`, "-H", "Content-Type: application/octet-stream", "-T", file, "-X", "POST", `${system.url}/upload`]);
    rows.push({ system: system.name, downloadMiBs: d.speed, downloadBytes: d.size, uploadMiBs: u.speed, uploadBytes: u.size, peakRss: await peakRss(system) });
    await system.stop();
  }
  await stopAll();
  const checks = o.runtimes.map((rt) => {
    const r = rows.find((x) => x.system === `tunnel2 ${rt}`)!;
    return {
      target: `tunnel2 ${rt}: 1 GiB download ≥ 600 MiB/s, 256 MiB upload ≥ 400 MiB/s`,
      measured: `${fmt(r.downloadMiBs as number, 0)} MiB/s down, ${fmt(r.uploadMiBs as number, 0)} MiB/s up`,
      met: (r.downloadMiBs as number) >= 600 && (r.uploadMiBs as number) >= 400,
    };
  });
  return {
    name: "bulk",
    rows,
    checks,
    table: table(
      ["system", `download ${down >> 20} MiB, MiB/s`, `upload ${up >> 20} MiB, MiB/s`, "peak RSS entry/client MiB"],
      rows.map((r) => {
        const rss = r.peakRss as { entry?: number; client?: number };
        return [r.system as string, fmt(r.downloadMiBs as number, 0), fmt(r.uploadMiBs as number, 0), rss.entry ? `${rss.entry} / ${rss.client}` : "—"];
      }),
    ),
  };
}

/** 5. Head-of-line: small requests while a visitor reads a 1 GiB download at 1 MiB/s. */
export async function headOfLine(o: ScenarioOptions): Promise<ScenarioResult> {
  const seconds = o.quick ? 3 : 10;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  for (const rt of o.runtimes) {
    const system = await startTunnel(rt, target.port);
    const alone = await closedLoop(system, "/", 50, seconds);
    const slow = Bun.spawn(["curl", "-s", "-o", "/dev/null", "--limit-rate", "1M", "-H", `Host: ${system.host}`, `${system.url}/bytes?n=${1024 ** 3}`]);
    await Bun.sleep(1000);
    const withDownload = await closedLoop(system, "/", 50, seconds);
    slow.kill();
    rows.push({ system: system.name, alone, withDownload, peakRss: await peakRss(system) });
    await system.stop();
  }
  await stopAll();
  const checks = rows.map((r) => {
    const w = r.withDownload as LoadResult;
    return { target: `${r.system}: small-request p99 < 25 ms beside a slow 1 GiB download`, measured: `${fmt(w.p99)} ms (alone ${fmt((r.alone as LoadResult).p99)} ms)`, met: w.p99 < 25 && w.errors === 0 };
  });
  return {
    name: "head-of-line",
    rows,
    checks,
    table: table(
      ["system", "p50 alone", "p99 alone", "p50 with slow download", "p99 with slow download", "RPS alone / with", "errors", "tool"],
      rows.map((r) => {
        const a = r.alone as LoadResult;
        const w = r.withDownload as LoadResult;
        return [r.system as string, fmt(a.p50), fmt(a.p99), fmt(w.p50), fmt(w.p99), `${rpsText(a.rps)} / ${rpsText(w.rps)}`, a.errors + w.errors, a.tool];
      }),
    ),
  };
}

/** 6. Memory: entry RSS while a visitor stalls a 1 GiB download for 10 s (peaks of 2, 4, 5 are in their tables). */
export async function memory(o: ScenarioOptions): Promise<ScenarioResult> {
  const stallMs = o.quick ? 3000 : 10_000;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  for (const rt of o.runtimes) {
    const system = await startTunnel(rt, target.port);
    const before = await rssMiB(system.pids.entry!);
    const port = Number(new URL(system.url).port);
    const socket = connect(port, "127.0.0.1");
    let received = 0;
    socket.on("data", (d) => {
      received += d.length;
      socket.pause(); // the visitor stops reading after the first bytes
    });
    socket.write(`GET /bytes?n=${1024 ** 3} HTTP/1.1\r\nHost: ${system.host}\r\n\r\n`);
    let peak = before;
    const end = Date.now() + stallMs;
    while (Date.now() < end) {
      await Bun.sleep(250);
      peak = Math.max(peak, await rssMiB(system.pids.entry!));
    }
    socket.destroy();
    rows.push({ system: system.name, rssBeforeMiB: before, rssPeakMiB: peak, growthMiB: peak - before, visitorReceivedBytes: received });
    await system.stop();
  }
  await stopAll();
  const checks = rows.map((r) => ({
    target: `${r.system}: entry RSS grows < 50 MiB while a visitor stalls a 1 GiB download`,
    measured: `+${fmt(r.growthMiB as number)} MiB over ${stallMs / 1000} s`,
    met: (r.growthMiB as number) < 50,
  }));
  return {
    name: "memory",
    rows,
    checks,
    table: table(
      ["system", "entry RSS before MiB", "peak during stall MiB", "growth MiB"],
      rows.map((r) => [r.system as string, fmt(r.rssBeforeMiB as number), fmt(r.rssPeakMiB as number), fmt(r.growthMiB as number)]),
    ),
  };
}

/**
 * 7. What metrics collection costs. Two tunnels run at once, one entry with
 * TUNNEL_METRICS=on and one with off (Bun clients for both, the steadier
 * ones); 2 s bursts of small requests at c=50 alternate between them (ABBA), so
 * both see the same moments of this shared machine. The entries' CPU time per
 * request is read from /proc. The same with both entries off (an A/A control)
 * shows how far two identical entries differ. The metrics' own work per
 * request is also timed in isolation.
 */
export async function metricsCost(o: ScenarioOptions): Promise<ScenarioResult> {
  const bursts = o.quick ? 4 : 12;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  for (const runtime of o.runtimes) {
    for (const [label, second] of [["on vs off", "on"], ["off vs off (control)", "off"]] as const) {
      const systems = [
        await startTunnel(runtime, target.port, "stream", { TUNNEL_METRICS: second }, "bun"),
        await startTunnel(runtime, target.port, "stream", { TUNNEL_METRICS: "off" }, "bun"),
      ];
      const totals = systems.map(() => ({ requests: 0, cpuMs: 0, rps: [] as number[] }));
      for (let i = 0; i < bursts; i++) {
        // ABBA order: neither entry always goes first.
        for (const k of i % 2 ? [1, 0] : [0, 1]) {
          const system = systems[k];
          const r = await withCpu({ entry: system.pids.entry! }, () => closedLoop(system, "/", 50, 2));
          totals[k].cpuMs += (r.cpuUsPerRequest.entry * r.requests) / 1000;
          totals[k].requests += r.requests;
          totals[k].rps.push(r.rps);
        }
      }
      for (const system of systems) await system.stop();
      const [a, b] = totals.map((t) => (t.cpuMs * 1000) / Math.max(1, t.requests));
      rows.push({
        runtime,
        comparison: label,
        cpuA: a,
        cpuB: b,
        difference: (a / b - 1) * 100,
        requestsA: totals[0].requests,
        requestsB: totals[1].requests,
      });
    }
  }
  await stopAll();
  const checks = [];
  for (const runtime of o.runtimes) {
    const test = rows.find((r) => r.runtime === runtime && r.comparison === "on vs off")!;
    const control = rows.find((r) => r.runtime === runtime && r.comparison !== "on vs off")!;
    const workUs = (await metricsWorkPerRequestNs(runtime)) / 1000;
    checks.push({
      target: `tunnel2 ${runtime} entry: metrics cost < 2 % of the entry's CPU per small request`,
      measured: `on vs off ${fmt(test.difference as number)} % (control, off vs off: ${fmt(control.difference as number)} %); ` +
        `the metrics' own work timed alone: ${fmt(workUs, 2)} µs = ${fmt((workUs / (test.cpuB as number)) * 100, 2)} % of ${fmt(test.cpuB as number)} µs`,
      met: (test.difference as number) - (control.difference as number) < 2,
    });
  }
  return {
    name: "metrics-cost",
    rows,
    checks,
    table: table(
      ["entry", "comparison", "entry CPU µs/request, first", "second", "difference", "requests, first / second"],
      rows.map((r) => [
        r.runtime as string,
        r.comparison as string,
        fmt(r.cpuA as number),
        fmt(r.cpuB as number),
        `${fmt(r.difference as number)} %`,
        `${r.requestsA} / ${r.requestsB}`,
      ]),
    ),
  };
}

/** 8. WebSocket echo: small messages, one in flight per socket, directly and through the tunnel. */
export async function wsEcho(o: ScenarioOptions): Promise<ScenarioResult> {
  const seconds = o.quick ? 3 : 10;
  const sockets = [1, 50];
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const systems: (() => Promise<System>)[] = [() => Promise.resolve(direct(target.port)), ...o.runtimes.map((rt) => () => startTunnel(rt, target.port))];
  for (const make of systems) {
    const system = await make();
    for (const n of sockets) {
      const proc = Bun.spawn([process.execPath, "run", "bench/ws-echo-load.ts", system.url.replace(/^http/, "ws") + "/ws", system.host, String(n), String(seconds), "64"], {
        stdout: "pipe",
        stderr: "inherit",
      });
      const result = JSON.parse(await new Response(proc.stdout).text());
      rows.push({ system: system.name, sockets: n, ...result });
    }
    await system.stop();
  }
  await stopAll();
  const get = (name: string, n: number) => rows.find((r) => r.system === name && r.sockets === n) as { rate: number } | undefined;
  const directRate = get("target directly", 50)!.rate;
  const checks = o.runtimes.map((rt) => {
    const rate = get(`tunnel2 ${rt}`, 50)?.rate ?? 0;
    return { target: `tunnel2 ${rt}: WebSocket echo at 50 sockets ≥ 0.35× direct, no errors`, measured: `${rpsText(rate)} msg/s = ${fmt(rate / directRate, 2)}× direct (${rpsText(directRate)})`, met: rate >= 0.35 * directRate && rows.every((r) => r.errors === 0) };
  });
  return {
    name: "ws-echo",
    rows,
    checks,
    table: table(
      ["system", "sockets", "echoes/s", "p50 ms", "p99 ms", "errors"],
      rows.map((r) => [r.system as string, r.sockets as number, rpsText(r.rate as number), fmt(r.p50 as number, 2), fmt(r.p99 as number, 2), r.errors as number]),
    ),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One system's runs over several rounds: the median of each figure (CPU per process too), errors summed. */
function medianOfRounds<K extends string>(rs: (LoadResult & { cpuUsPerRequest: Partial<Record<K, number>> })[]) {
  const processes = Object.keys(rs[0].cpuUsPerRequest) as K[];
  return {
    rps: median(rs.map((r) => r.rps)),
    p50: median(rs.map((r) => r.p50)),
    p99: median(rs.map((r) => r.p99)),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    tool: rs[0].tool,
    cpuUsPerRequest: Object.fromEntries(processes.map((k) => [k, median(rs.map((r) => r.cpuUsPerRequest[k]!))])) as Record<K, number>,
  };
}

/** One visitor request through `system`: its status, or "error" when no answer came (refused, reset, 2 s passed). */
async function visitOnce(system: System): Promise<number | "error"> {
  try {
    const r = await fetch(system.url + "/", { headers: { host: system.host }, signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return "error";
  }
}

/** Waits until `system` answers 200 (at most 10 s). */
async function until200(system: System): Promise<void> {
  const end = Date.now() + 10_000;
  while ((await visitOnce(system)) !== 200) {
    if (Date.now() > end) throw new Error(`${system.name}: no 200 within 10 s`);
    await Bun.sleep(50);
  }
}

type ClusterRun = LoadResult & {
  cpuUsPerRequest: { entryA: number; entryB: number; client: number };
  /** The client lost an uplink during the run (it then moves to B, and local and forwarded swap). */
  uplinkLost: boolean;
};

/**
 * Rounds of the same closed-loop load on each system in turn, the order
 * rotating each round (AB, BA, AB…) so the shared machine's moods hit all of
 * them; the entries' and the client's CPU per request is read from /proc.
 * Each run through the pair has a fresh client (warmed up for a second,
 * unmeasured): a client's uplink is dropped after ~62k small responses (its
 * frame writer counts the one-frame responses' DATA frames as queued control
 * frames and never uncounts them, so it trips its 16 MiB "peer is not
 * reading" bound), and a lost uplink moves to B. Runs where an uplink was
 * lost anyway are marked.
 */
async function rotate(systems: System[], pair: EntryPair, c: number, seconds: number, rounds: number): Promise<ClusterRun[][]> {
  const runs = systems.map((): ClusterRun[] => []);
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < systems.length; j++) {
      const k = (i + j) % systems.length;
      const system = systems[k];
      if (system === pair.local || system === pair.forwarded) {
        await pair.restartClient();
        await until200(system);
        await closedLoop(system, "/", 50, 1);
      }
      const pids = { entryA: pair.local.pids.entry!, entryB: pair.forwarded.pids.entry!, client: pair.local.pids.client! };
      const lostBefore = pair.clientOutput().split("uplink lost").length;
      const r = await withCpu(pids, () => closedLoop(system, "/", c, seconds));
      const uplinkLost = pair.clientOutput().split("uplink lost").length > lostBefore;
      runs[k].push({ ...r, uplinkLost });
    }
  }
  return runs;
}

/** What a poller sent through entry B every 20 ms, around a kill -9 of entry A. */
interface Poll {
  sentAt: number;
  doneAt: number;
  status: number | "error";
}

/**
 * kill -9 of entry A while a poller visits the session through B every 20
 * ms; the client (`--server A,B`) moves its uplinks to B. Measured: kill to
 * the first 200 of a request sent after it, what the poller got meanwhile,
 * and from the client's log when it noticed, what wait it drew and when it
 * was on B again.
 */
async function recoverAfterKill(runtime: Runtime, targetPort: number, redisUrl: string, session: string): Promise<Record<string, unknown>> {
  const pair = await startEntryPair(runtime, targetPort, redisUrl, session);
  try {
    await until200(pair.forwarded); // B knows where the session is
    const polls: Poll[] = [];
    const inFlight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      const sentAt = performance.now();
      const p = visitOnce(pair.forwarded).then((status) => {
        polls.push({ sentAt, doneAt: performance.now(), status });
        inFlight.delete(p);
      });
      inFlight.add(p);
    }, 20);
    await Bun.sleep(1000);
    const killedAt = performance.now();
    const killedWall = Date.now();
    pair.killA();
    const ok = () => polls.find((p) => p.status === 200 && p.sentAt >= killedAt);
    while (!ok() && performance.now() - killedAt < 10_000) await Bun.sleep(5);
    await Bun.sleep(500); // a little more, to see that it stays served
    clearInterval(timer);
    await Promise.all(inFlight);
    const first = ok();
    const firstAt = first?.doneAt ?? Infinity;
    const tally = (ps: Poll[]) => {
      const counts: Record<string, number> = {};
      for (const p of ps) counts[String(p.status)] = (counts[String(p.status)] ?? 0) + 1;
      return counts;
    };
    // From the client's log (ISO times to the ms): loss noticed, wait drawn, first uplink on B.
    const lines = pair.clientOutput().split("\n");
    const at = (line: string | undefined) => (line ? Date.parse(line.split(" ")[0]) - killedWall : NaN);
    const lost = lines.filter((l) => l.includes("uplink lost, reconnecting"));
    const onB = lines.find((l) => l.includes("uplink connected") && l.includes(`server=${pair.forwarded.url}`));
    return {
      runtime,
      session,
      killToFirst200Ms: first ? firstAt - killedAt : NaN,
      // Requests answered between the kill and that 200 (whenever sent), by status.
      meanwhile: tally(polls.filter((p) => p.doneAt > killedAt && p.doneAt < firstAt)),
      // And not 200 after it (should be none).
      afterwards: tally(polls.filter((p) => p.doneAt > firstAt && p.status !== 200)),
      clientNoticedMs: at(lost[0]),
      clientWaitsDrawnMs: lost.map((l) => Number(l.match(/retryInMs=(\d+)/)?.[1])),
      clientOnBMs: at(onB),
    };
  } finally {
    await pair.stop();
  }
}

/**
 * 9. Cluster: two entries sharing a session through Redis.
 * The throughput scenario's small request at c=50 and c=1 through the entry
 * that holds the session (local) and through the other one, which forwards it
 * (one HTTP hop more, the peer fetch), in rotating rounds in one sitting; at
 * c=1 the target directly and the one-hop fetch proxy too, for the scale of
 * one hop on this machine. Then recovery: kill -9 of the holding entry, the
 * client moves to the other (`--server A,B`), a visitor polls through it.
 */
export async function cluster(o: ScenarioOptions): Promise<ScenarioResult> {
  if (!hasRedis) {
    return { name: "cluster", rows: [], checks: [{ target: "cluster scenario", measured: "skipped: redis-server is not installed", met: false }], table: "skipped: redis-server is not installed" };
  }
  const rounds = o.quick ? 1 : 3;
  const seconds = { 50: o.quick ? 3 : 8, 1: o.quick ? 2 : 4 };
  const kills = o.quick ? 1 : 3;
  const target = await startTarget();
  const redis = await startRedis();
  const proxy = await startProxy(target.port);
  const rows: Record<string, unknown>[] = [];
  const recoveries: Record<string, unknown>[] = [];
  try {
    for (const runtime of o.runtimes) {
      const pair = await startEntryPair(runtime, target.port, redis.url, `bench-${runtime}`);
      for (const c of [50, 1] as const) {
        const systems = c === 1 ? [pair.local, pair.forwarded, direct(target.port), proxy] : [pair.local, pair.forwarded];
        const runs = await rotate(systems, pair, c, seconds[c], rounds);
        systems.forEach((system, k) => {
          const rs = runs[k];
          const path = k === 0 ? "local" : k === 1 ? "forwarded" : system.name;
          const { cpuUsPerRequest, ...medians } = medianOfRounds(rs);
          rows.push({
            runtime,
            path,
            c,
            ...medians,
            uplinksLost: rs.filter((r) => r.uplinkLost).length,
            ...(k < 2 && { cpuUsPerRequest }),
            rounds: rs,
          });
        });
      }
      await pair.stop();
      for (let i = 1; i <= kills; i++) recoveries.push({ try: i, ...(await recoverAfterKill(runtime, target.port, redis.url, `kill-${runtime}-${i}`)) });
    }
  } finally {
    await proxy.stop();
    await redis.stop();
    await stopAll();
  }

  type Row = { runtime: Runtime; path: string; c: number; rps: number; p50: number; p99: number; errors: number; uplinksLost: number; tool: string; cpuUsPerRequest?: ClusterRun["cpuUsPerRequest"]; rounds: ClusterRun[] };
  const all = rows as Row[];
  const get = (runtime: Runtime, path: string, c: number) => all.find((r) => r.runtime === runtime && r.path === path && r.c === c)!;
  const comparisons = o.runtimes.flatMap((runtime) =>
    ([50, 1] as const).map((c) => {
      const local = get(runtime, "local", c);
      const forwarded = get(runtime, "forwarded", c);
      // Round by round: the forwarded p50 less the local one measured next to it.
      const added = forwarded.rounds.map((r, i) => r.p50 - local.rounds[i].p50);
      const hop = c === 1 ? get(runtime, "one-hop fetch proxy (Bun)", 1).p50 - get(runtime, "target directly", 1).p50 : NaN;
      return { runtime, c, rpsRatio: forwarded.rps / local.rps, p50Ratio: forwarded.p50 / local.p50, p99Ratio: forwarded.p99 / local.p99, addedP50: forwarded.p50 - local.p50, addedP50Rounds: added, oneHopAddedP50: hop };
    })
  );
  const killsOf = (runtime: Runtime) => recoveries.filter((r) => r.runtime === runtime).map((r) => r.killToFirst200Ms as number);
  const checks = [
    ...o.runtimes.map((runtime) => {
      const c1 = comparisons.find((x) => x.runtime === runtime && x.c === 1)!;
      return {
        target: `${runtime} entries: a forwarded request adds < 1 ms p50 once the location is known (c=1)`,
        measured: `+${fmt(c1.addedP50, 2)} ms (rounds ${c1.addedP50Rounds.map((x) => fmt(x, 2)).join(", ")}); one hop through the Bun fetch proxy adds ${fmt(c1.oneHopAddedP50, 2)} ms here`,
        met: c1.addedP50 < 1,
      };
    }),
    ...o.runtimes.map((runtime) => ({
      target: `${runtime}: after kill -9 of the holding entry, served through the other again (for the record: median)`,
      measured: `${killsOf(runtime).map((ms) => `${fmt(ms, 0)} ms`).join(", ")}; median ${fmt(median(killsOf(runtime)), 0)} ms`,
      met: killsOf(runtime).every(Number.isFinite) && recoveries.every((r) => Object.keys(r.afterwards as object).length === 0),
    })),
    {
      target: "no errors under load, local or forwarded, and the client's uplinks stayed on A in every measured run",
      measured: `${all.reduce((n, r) => n + r.errors, 0)} errors, ${all.reduce((n, r) => n + r.uplinksLost, 0)} runs with an uplink lost`,
      met: all.every((r) => r.errors === 0 && r.uplinksLost === 0),
    },
  ];
  const counts = (t: Record<string, number>) => Object.entries(t).map(([status, n]) => `${n}× ${status}`).join(", ") || "none";
  return {
    name: "cluster",
    rows: [...rows, ...comparisons.map((x) => ({ comparison: "forwarded vs local", ...x })), ...recoveries.map((r) => ({ recovery: "kill -9 A", ...r }))],
    checks,
    table: [
      table(
        ["runtime", "path", "c", "RPS", "p50 ms", "p99 ms", "errors", "CPU µs/request: entry A / entry B / client", "tool"],
        all.map((r) => [
          r.runtime,
          r.path,
          r.c,
          rpsText(r.rps),
          fmt(r.p50, 2),
          fmt(r.p99, 2),
          `${r.errors}${r.uplinksLost ? ` (an uplink lost in ${r.uplinksLost} runs)` : ""}`,
          r.cpuUsPerRequest ? `${fmt(r.cpuUsPerRequest.entryA, 0)} / ${fmt(r.cpuUsPerRequest.entryB, 0)} / ${fmt(r.cpuUsPerRequest.client, 0)}` : "",
          r.tool,
        ]),
      ),
      "",
      `Forwarded vs local (medians of ${rounds} rotating rounds each):`,
      "",
      table(
        ["runtime", "c", "RPS ratio", "p50 ratio", "p99 ratio", "added p50 ms (rounds)", "one hop (Bun fetch proxy) adds, ms"],
        comparisons.map((x) => [
          x.runtime,
          x.c,
          fmt(x.rpsRatio, 2),
          fmt(x.p50Ratio, 2),
          fmt(x.p99Ratio, 2),
          `${fmt(x.addedP50, 2)} (${x.addedP50Rounds.map((v) => fmt(v, 2)).join(", ")})`,
          Number.isFinite(x.oneHopAddedP50) ? fmt(x.oneHopAddedP50, 2) : "",
        ]),
      ),
      "",
      "Recovery: kill -9 of entry A, client `--server A,B`, a visitor through B every 20 ms:",
      "",
      table(
        ["runtime", "try", "kill → first 200 via B, ms", "answers between the kill and that 200", "client noticed, ms", "client's drawn waits, ms", "client on B, ms"],
        recoveries.map((r) => [
          r.runtime as string,
          r.try as number,
          fmt(r.killToFirst200Ms as number, 0),
          counts(r.meanwhile as Record<string, number>),
          fmt(r.clientNoticedMs as number, 0),
          (r.clientWaitsDrawnMs as number[]).join(", "),
          fmt(r.clientOnBMs as number, 0),
        ]),
      ),
      "",
      ...o.runtimes.map((runtime) => `Median kill → first 200 (${runtime}): ${fmt(median(killsOf(runtime)), 0)} ms`),
    ].join("\n"),
  };
}

type Process = "entry" | "client" | "proxy" | "target";
type CpuRun = LoadResult & { cpuUsPerRequest: Partial<Record<Process, number>> };

/** The CPU of a system's own processes per request: entry + client, or the proxy (not the target). */
const ownCpu = (cpu: Partial<Record<Process, number>>) => (cpu.entry ?? 0) + (cpu.client ?? 0) + (cpu.proxy ?? 0);

/**
 * 10. CPU per request: small "ok" responses through tunnel2 (entry
 * and client on the runtime named), the one-hop Bun fetch proxy and the target
 * alone, all started fresh per runtime; µs of CPU per request for every process
 * (entry, client, proxy, target) from /proc, next to RPS, at c=50 and c=10.
 * Each system is warmed up first (8 s at c=50, measured and shown apart: the
 * JIT tiers make the first seconds through a fresh process cost 30–60 % more),
 * then rounds rotate the order (tunnel, proxy, target; proxy, target, tunnel;
 * …) so the shared machine's moods hit all of them; medians are reported, and
 * the goals' ratios (tunnel2 / proxy RPS, (entry + client) / proxy CPU) are
 * taken round by round before their median. To see where the CPU goes:
 * bench/lib/profile.ts.
 */
export async function cpu(o: ScenarioOptions): Promise<ScenarioResult> {
  const warmUpSeconds = 8;
  const seconds = o.quick ? 3 : 8;
  const rounds = o.quick ? 2 : 3;
  const concurrency = [50, 10];
  type Row = { runtime: Runtime; system: string; c: number | "warm-up"; rps: number; p50: number; p99: number; errors: number; tool: string; cpuUsPerRequest: Partial<Record<Process, number>>; rounds: CpuRun[] };
  const rows: Row[] = [];
  const summary = (runtime: Runtime, system: string, c: Row["c"], rs: CpuRun[]): Row => ({ runtime, system, c, ...medianOfRounds(rs), rounds: rs });
  for (const runtime of o.runtimes) {
    try {
      const target = await startTarget();
      const systems = [await startTunnel(runtime, target.port), await startProxy(target.port), direct(target.port)];
      const measure = (system: System, c: number, s: number): Promise<CpuRun> =>
        withCpu({ ...system.pids, target: target.pid } as Record<Process, number>, () => closedLoop(system, "/", c, s));
      for (const system of systems) rows.push(summary(runtime, system.name, "warm-up", [await measure(system, 50, warmUpSeconds)]));
      const runs = new Map<string, CpuRun[]>();
      for (let i = 0; i < rounds; i++) {
        for (const c of concurrency) {
          for (let j = 0; j < systems.length; j++) {
            const system = systems[(i + j) % systems.length];
            const key = `${system.name} ${c}`;
            runs.set(key, [...(runs.get(key) ?? []), await measure(system, c, seconds)]);
          }
        }
      }
      for (const c of concurrency) for (const system of systems) rows.push(summary(runtime, system.name, c, runs.get(`${system.name} ${c}`)!));
    } finally {
      await stopAll();
    }
  }

  const get = (runtime: Runtime, system: string, c: number) => rows.find((r) => r.runtime === runtime && r.system.startsWith(system) && r.c === c)!;
  const comparisons = o.runtimes.flatMap((runtime) =>
    concurrency.map((c) => {
      const tunnel = get(runtime, "tunnel2", c);
      const proxy = get(runtime, "one-hop", c);
      const target = get(runtime, "target", c);
      // Round by round (the two measured within a minute of each other), then the median.
      const rpsRatioRounds = tunnel.rounds.map((r, i) => r.rps / proxy.rounds[i].rps);
      const cpuRatioRounds = tunnel.rounds.map((r, i) => ownCpu(r.cpuUsPerRequest) / ownCpu(proxy.rounds[i].cpuUsPerRequest));
      return {
        runtime,
        c,
        rpsRatio: median(rpsRatioRounds),
        rpsRatioRounds,
        cpuRatio: median(cpuRatioRounds),
        cpuRatioRounds,
        entryVsTarget: tunnel.cpuUsPerRequest.entry! / target.cpuUsPerRequest.target!,
      };
    })
  );
  const compare = (runtime: Runtime, c: number) => comparisons.find((x) => x.runtime === runtime && x.c === c)!;
  const rounded = (xs: number[]) => xs.map((x) => fmt(x, 2)).join(", ");
  const checks = o.runtimes.flatMap((runtime) => {
    const c50 = compare(runtime, 50);
    const c10 = compare(runtime, 10);
    const errors = rows.filter((r) => r.runtime === runtime).reduce((n, r) => n + r.errors, 0);
    const who = `tunnel2 ${runtime}${runtime === "bun" ? "" : " (the goal is Bun's; for the record)"}`;
    return [
      { target: `${who}: small responses ≥ 0.75× the one-hop proxy at c=50`, measured: `${fmt(c50.rpsRatio, 2)}× (rounds ${rounded(c50.rpsRatioRounds)})`, met: c50.rpsRatio >= 0.75 },
      { target: `${who}: small responses ≥ 0.6× the one-hop proxy at c=10`, measured: `${fmt(c10.rpsRatio, 2)}× (rounds ${rounded(c10.rpsRatioRounds)})`, met: c10.rpsRatio >= 0.6 },
      {
        target: `${who}: entry + client CPU per request ≤ 1.6× the one-hop proxy's (c=50)`,
        measured: `${fmt(c50.cpuRatio, 2)}× (rounds ${rounded(c50.cpuRatioRounds)}); c=10: ${fmt(c10.cpuRatio, 2)}×`,
        met: c50.cpuRatio <= 1.6,
      },
      { target: `${runtime}: no errors in any run`, measured: `${errors} errors`, met: errors === 0 },
    ];
  });
  if (o.runtimes.includes("bun") && o.runtimes.includes("deno")) {
    const [bun, deno] = (["bun", "deno"] as const).map((rt) => get(rt, "tunnel2", 50).rps);
    const [bunShare, denoShare] = (["bun", "deno"] as const).map((rt) => compare(rt, 50).rpsRatio);
    // The two runtimes' tunnels ran minutes apart: each is taken against the proxy measured beside it.
    checks.push({
      target: "Deno (entry and client) ≥ 0.7× Bun at c=50 (each as a share of the proxy beside it)",
      measured: `${fmt(denoShare / bunShare, 2)}× (${fmt(denoShare, 2)} vs ${fmt(bunShare, 2)} of the proxy; raw ${rpsText(deno)} vs ${rpsText(bun)} RPS = ${fmt(deno / bun, 2)}×)`,
      met: denoShare >= 0.7 * bunShare,
    });
  }
  const cpuCell = (r: Row, k: Process) => (r.cpuUsPerRequest[k] === undefined ? "" : fmt(r.cpuUsPerRequest[k]!, 0));
  return {
    name: "cpu",
    rows: [...rows, ...comparisons.map((x) => ({ comparison: "tunnel2 vs one-hop proxy", ...x }))],
    checks,
    table: [
      table(
        ["runtime", "system", "c", "RPS", "p50 ms", "p99 ms", "errors", "CPU µs/request: entry", "client", "proxy", "target", "entry + client (or proxy)"],
        rows.map((r) => [
          r.runtime,
          r.system,
          r.c === "warm-up" ? `warm-up (${warmUpSeconds} s, c=50)` : r.c,
          rpsText(r.rps),
          fmt(r.p50, 2),
          fmt(r.p99, 2),
          r.errors,
          cpuCell(r, "entry"),
          cpuCell(r, "client"),
          cpuCell(r, "proxy"),
          cpuCell(r, "target"),
          r.system.startsWith("target") ? "" : fmt(ownCpu(r.cpuUsPerRequest), 0),
        ]),
      ),
      "",
      `tunnel2 against the one-hop proxy, round by round (${rounds} rotating rounds of ${seconds} s, ${rows[0]?.tool ?? "wrk"}): the median, each round in brackets:`,
      "",
      table(
        ["runtime", "c", "RPS ratio tunnel2 / proxy", "CPU ratio (entry + client) / proxy", "entry CPU / bare target CPU"],
        comparisons.map((x) => [x.runtime, x.c, `${fmt(x.rpsRatio, 2)} (${rounded(x.rpsRatioRounds)})`, `${fmt(x.cpuRatio, 2)} (${rounded(x.cpuRatioRounds)})`, fmt(x.entryVsTarget, 2)]),
      ),
    ].join("\n"),
  };
}

/**
 * Two systems loaded in turn, ABBA (neither always first), `bursts` times
 * for `seconds` each at c=50, after a warm-up of each: their requests, the
 * CPU per request of the process `which` names, and errors, as a row.
 */
/** The table of {@linkcode abba} rows. */
function abbaTable(rows: Record<string, unknown>[], which: "entry" | "client"): string {
  return table(
    [which, "comparison", "requests, first / second", "ratio", `${which} CPU µs/request, first / second`, "errors"],
    rows.map((r) => [
      r.runtime as string,
      r.comparison as string,
      `${r.requestsA} / ${r.requestsB}`,
      `${fmt(r.ratio as number, 3)}×`,
      `${fmt(r.cpuA as number)} / ${fmt(r.cpuB as number)}`,
      r.errors as number,
    ]),
  );
}

async function abba(systems: System[], which: "entry" | "client", bursts: number, seconds: number, headers?: string[]): Promise<Record<string, number>> {
  for (const system of systems) await closedLoop(system, "/", 50, 4, headers); // warm-up
  const totals = systems.map(() => ({ requests: 0, cpuMs: 0, errors: 0 }));
  for (let i = 0; i < bursts; i++) {
    for (const k of i % 2 ? [1, 0] : [0, 1]) {
      const r = await withCpu({ [which]: systems[k].pids[which]! }, () => closedLoop(systems[k], "/", 50, seconds, headers));
      totals[k].requests += r.requests;
      totals[k].errors += r.errors;
      totals[k].cpuMs += (r.cpuUsPerRequest[which] * r.requests) / 1000;
    }
  }
  for (const system of systems) await system.stop();
  return {
    requestsA: totals[0].requests,
    requestsB: totals[1].requests,
    ratio: totals[0].requests / Math.max(1, totals[1].requests),
    cpuA: (totals[0].cpuMs * 1000) / Math.max(1, totals[0].requests),
    cpuB: (totals[1].cpuMs * 1000) / Math.max(1, totals[1].requests),
    errors: totals[0].errors + totals[1].errors,
  };
}

/**
 * 11. The request inspector's cost: small "ok" requests at c=50
 * through two tunnels side by side, the same client code with the inspector
 * on (recording every request) and off, in alternating 3 s bursts (ABBA),
 * after a warm-up of each; and the same with both off, as the noise floor.
 * Throughput is the requests of all bursts; CPU is the client's.
 */
export async function inspectorCost(o: ScenarioOptions): Promise<ScenarioResult> {
  const bursts = o.quick ? 4 : 10;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const on = { client: { env: { TUNNEL_INSPECT: "127.0.0.1:0" } } };
  for (const runtime of o.runtimes) {
    for (const [label, first] of [["inspector on vs off", on], ["off vs off (control)", {}]] as const) {
      const systems = [await startTunnel(runtime, target.port, "stream", {}, runtime, first), await startTunnel(runtime, target.port, "stream", {}, runtime)];
      rows.push({ runtime, comparison: label, ...(await abba(systems, "client", bursts, 3)) });
    }
  }
  await stopAll();
  const checks = o.runtimes.map((runtime) => {
    const test = rows.find((r) => r.runtime === runtime && r.comparison === "inspector on vs off")!;
    const control = rows.find((r) => r.runtime === runtime && r.comparison !== "inspector on vs off")!;
    return {
      target: `tunnel2 ${runtime}: small requests with the inspector on ≥ 0.95× the same client with --no-inspect`,
      measured: `${fmt(test.ratio as number, 3)}× (control, off vs off: ${fmt(control.ratio as number, 3)}×); client CPU ${fmt(test.cpuA as number)} vs ${fmt(test.cpuB as number)} µs/request`,
      met: (test.ratio as number) >= 0.95 && test.errors === 0,
    };
  });
  return {
    name: "inspector-cost",
    rows,
    checks,
    table: abbaTable(rows, "client"),
  };
}

/** The access checks a request with rules pays, timed alone in this process: basic auth (the right pair of 3) and an allow list of 8 ranges. */
function accessCheckNs(): number {
  const policy = AccessPolicy.compile("bench", {
    basicAuth: ["alice:correct-horse-battery", "bob:staple-42", "carol:another-one"],
    allowIp: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32", "198.51.100.0/24", "203.0.113.0/24", "fd00::/8", "127.0.0.0/8"],
  }, undefined)!;
  const request = new Request("http://bench.localhost/", { headers: { authorization: `Basic ${btoa("bob:staple-42")}` } });
  const rounds = 200_000;
  for (let i = 0; i < 20_000; i++) refuseByHead(request, "127.0.0.1", "bench", policy);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    if (refuseByHead(request, "127.0.0.1", "bench", policy)) throw new Error("the bench's own credentials were refused");
  }
  return ((performance.now() - started) * 1e6) / rounds;
}

/**
 * 12. What access rules cost. Two tunnels at once: one whose client asks for
 * basic auth and an IP allow list (the load sends the right credentials
 * from an allowed address), one with no rules; 3 s bursts of small requests
 * at c=50 alternate between them (ABBA) after a warm-up of each; then the
 * same with neither having rules, as the noise floor. The entries' CPU per
 * request is read from /proc; the checks' own work is timed alone.
 */
export async function accessCost(o: ScenarioOptions): Promise<ScenarioResult> {
  const bursts = o.quick ? 4 : 10;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  const credentials = "alice:correct-horse-battery";
  const ruled = { client: { env: { TUNNEL_BASIC_AUTH: credentials, TUNNEL_ALLOW_IP: "10.0.0.0/8,127.0.0.1,::1" } } };
  const headers = [`Authorization: Basic ${btoa(credentials)}`];
  // BENCH_BASELINE=<a checkout of the tree before access rules>: also this tree's entry without rules against that one's.
  const baseline = process.env.BENCH_BASELINE ? join(process.env.BENCH_BASELINE, "src") : undefined;
  const comparisons: [string, { entry?: Extras; client?: Extras }, { entry?: Extras; client?: Extras }][] = [
    ["rules vs none", ruled, {}],
    ["none vs none (control)", {}, {}],
    ...(baseline ? [["none vs none before access rules", {}, { entry: { sourceDir: baseline } }] as [string, { entry?: Extras }, { entry?: Extras }]] : []),
  ];
  for (const runtime of o.runtimes) {
    for (const [label, first, second] of comparisons) {
      const systems = [await startTunnel(runtime, target.port, "stream", {}, runtime, first), await startTunnel(runtime, target.port, "stream", {}, runtime, second)];
      rows.push({ runtime, comparison: label, ...(await abba(systems, "entry", bursts, 3, headers)) });
    }
  }
  await stopAll();
  const checkUs = accessCheckNs() / 1000;
  const checks = o.runtimes.map((runtime) => {
    const test = rows.find((r) => r.runtime === runtime && r.comparison === "rules vs none")!;
    const control = rows.find((r) => r.runtime === runtime && r.comparison !== "rules vs none")!;
    return {
      target: `tunnel2 ${runtime}: basic auth and an allow list cost the entry ≤ 5 µs of CPU per request (beyond the control's difference); the checks alone ≤ 5 µs`,
      measured: `entry CPU ${fmt(test.cpuA as number)} vs ${fmt(test.cpuB as number)} µs/request (control: ${fmt(control.cpuA as number)} vs ${fmt(control.cpuB as number)}); ` +
        `requests ${fmt(test.ratio as number, 3)}× (control ${fmt(control.ratio as number, 3)}×); the checks alone (Bun): ${fmt(checkUs, 2)} µs`,
      met: (test.cpuA as number) - (test.cpuB as number) - ((control.cpuA as number) - (control.cpuB as number)) <= 5 && test.errors === 0 && checkUs <= 5,
    };
  });
  for (const runtime of o.runtimes) {
    const before = rows.find((r) => r.runtime === runtime && r.comparison === "none vs none before access rules");
    const control = rows.find((r) => r.runtime === runtime && r.comparison === "none vs none (control)")!;
    if (!before) continue;
    checks.push({
      target: `tunnel2 ${runtime}: a session without rules costs what it did before access rules (within the control's spread)`,
      measured: `requests ${fmt(before.ratio as number, 3)}× the earlier tree (control ${fmt(control.ratio as number, 3)}×); entry CPU ${fmt(before.cpuA as number)} vs ${fmt(before.cpuB as number)} µs/request`,
      met: Math.abs((before.ratio as number) - 1) <= Math.max(0.03, Math.abs((control.ratio as number) - 1) * 1.5) && before.errors === 0,
    });
  }
  return {
    name: "access-cost",
    rows,
    checks,
    table: abbaTable(rows, "entry"),
  };
}

export const SCENARIOS = {
  origin,
  throughput,
  "open-loop": openLoop,
  bulk,
  "head-of-line": headOfLine,
  memory,
  "metrics-cost": metricsCost,
  "ws-echo": wsEcho,
  cluster,
  cpu,
  "inspector-cost": inspectorCost,
  "access-cost": accessCost,
} as const;
export type ScenarioName = keyof typeof SCENARIOS;
