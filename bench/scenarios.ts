/**
 * The benchmark scenarios. Each starts what it needs, measures its systems in
 * one sitting (so ratios are fair on a noisy machine), stops everything, and
 * returns rows plus a markdown table.
 */
import { connect } from "node:net";
import { load, type LoadResult } from "./lib/load-tool.ts";
import { cpuMs, direct, metricsWorkPerRequestNs, peakRss, rssMiB, type Runtime, startProxy, startTarget, startTunnel, stopAll, type System } from "./lib/systems.ts";

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

async function closedLoop(system: System, path: string, c: number, seconds: number): Promise<LoadResult> {
  return await load({ url: system.url + path, host: system.host, connections: c, seconds });
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
      target: `tunnel2 ${rt}: p50 at c=1000 ≤ 1.5× p50 at c=1, no errors`,
      measured: `${fmt(pMax.p50)} ms vs ${fmt(p1)} ms (${fmt(pMax.p50 / p1, 2)}×), ${pMax.errors} errors`,
      met: pMax.p50 <= 1.5 * p1 && pMax.errors === 0,
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
    checks.push({ target: "Bun c=50 ≥ 0.5× the one-hop proxy", measured: `${fmt(bun.rps / proxy.rps, 2)}× (${rpsText(bun.rps)} vs ${rpsText(proxy.rps)})`, met: bun.rps >= 0.5 * proxy.rps });
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

/** 3. Fixed arrival rates: the highest with p99 < 50 ms and no errors is the headline. */
export async function openLoop(o: ScenarioOptions): Promise<ScenarioResult> {
  const rates = o.quick ? [1000, 5000] : [1000, 5000, 10000];
  const seconds = o.quick ? 5 : 30;
  const target = await startTarget();
  const rows: Record<string, unknown>[] = [];
  for (const rt of o.runtimes) {
    const system = await startTunnel(rt, target.port);
    for (const rate of rates) {
      const r = await load({ url: system.url + "/", host: system.host, connections: 200, seconds, rate });
      rows.push({ system: system.name, rate, ...r });
    }
    await system.stop();
  }
  await stopAll();
  const checks = o.runtimes.map((rt) => {
    const ok = rows.filter((r) => {
      const x = r as unknown as LoadResult & { system: string; rate: number };
      return x.system === `tunnel2 ${rt}` && x.p99 < 50 && x.errors === 0 && x.rps >= 0.95 * x.rate;
    });
    const best = Math.max(0, ...ok.map((r) => r.rate as number));
    return { target: `tunnel2 ${rt}: 10k RPS open loop (achieved), p99 < 50 ms, no errors`, measured: `highest clean rate: ${best ? rpsText(best) : "none"}`, met: best >= 10_000 };
  });
  return {
    name: "open-loop",
    rows,
    checks,
    table: table(
      ["system", "offered RPS", "achieved RPS", "p50 ms", "p99 ms", "errors", "tool"],
      rows.map((r) => {
        const x = r as unknown as LoadResult & { system: string; rate: number };
        return [x.system, rpsText(x.rate), rpsText(x.rps), fmt(x.p50), fmt(x.p99), x.errors, x.tool];
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
    return { target: `tunnel2 ${rt}: 1 GiB download ≥ 500 MiB/s`, measured: `${fmt(r.downloadMiBs as number, 0)} MiB/s`, met: (r.downloadMiBs as number) >= 500 };
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
          const before = await cpuMs(system.pids.entry!);
          const r = await closedLoop(system, "/", 50, 2);
          totals[k].cpuMs += (await cpuMs(system.pids.entry!)) - before;
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
    return { target: `tunnel2 ${rt}: WebSocket echo at 50 sockets, no errors (for the record: share of direct)`, measured: `${rpsText(rate)} msg/s = ${fmt(rate / directRate, 2)}× direct (${rpsText(directRate)})`, met: rate > 0 && rows.every((r) => r.errors === 0) };
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

export const SCENARIOS = {
  origin,
  throughput,
  "open-loop": openLoop,
  bulk,
  "head-of-line": headOfLine,
  memory,
  "metrics-cost": metricsCost,
  "ws-echo": wsEcho,
} as const;
export type ScenarioName = keyof typeof SCENARIOS;
