/**
 * The systems a benchmark compares, each started fresh on loopback: the
 * target alone, tunnel2 (Bun or Deno, real or locked-flush writer), and the
 * one-hop fetch proxy.
 */
import { join } from "node:path";
import { peakRssMiB, spawnUntil, stopAll } from "../../test/helpers/processes.ts";

const ROOT = join(import.meta.dir, "..", "..");
const DENO = join(ROOT, "node_modules", "deno", "deno");

export type Runtime = "bun" | "deno";
export type Writer = "stream" | "locked-flush";

/** Something to send load to. */
export interface System {
  name: string;
  url: string;
  host: string;
  /** Processes whose memory we report. */
  pids: { entry?: number; client?: number };
  /** Stops the system's own processes (not the target). */
  stop(): Promise<void>;
}

type Proc = { kill(signal?: number | string): void; exited: Promise<number> };
function stopper(...procs: Proc[]): () => Promise<void> {
  return async () => {
    for (const p of procs) p.kill();
    await Promise.all(procs.map((p) => p.exited));
  };
}

function run(runtime: Runtime, script: string): string[] {
  const path = join(ROOT, script);
  return runtime === "bun"
    ? [process.execPath, "run", path]
    : [DENO, "run", "--allow-net", "--allow-env", "--allow-read", "--unstable-no-legacy-abort", path];
}

export async function startTarget(): Promise<{ port: number }> {
  const t = await spawnUntil([process.execPath, "run", join(ROOT, "bench/target.ts")], { PORT: "0" }, /target listening on (\d+)/);
  return { port: Number(t.match[1]) };
}

export function direct(targetPort: number): System {
  return { name: "target directly", url: `http://127.0.0.1:${targetPort}`, host: `127.0.0.1:${targetPort}`, pids: {}, stop: async () => {} };
}

export async function startProxy(targetPort: number): Promise<System> {
  const p = await spawnUntil(
    [process.execPath, "run", join(ROOT, "bench/one-hop-proxy.ts")],
    { PORT: "0", TARGET: `http://127.0.0.1:${targetPort}` },
    /proxy listening on (\d+)/,
  );
  const port = Number(p.match[1]);
  return { name: "one-hop fetch proxy (Bun)", url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, pids: {}, stop: stopper(p.proc) };
}

export async function startTunnel(
  runtime: Runtime,
  targetPort: number,
  writer: Writer = "stream",
  entryEnv: Record<string, string> = {},
  clientRuntime: Runtime = runtime,
): Promise<System> {
  const dir = writer === "locked-flush" ? "bench/locked-flush" : "src";
  const entry = await spawnUntil(
    run(runtime, `${dir}/server.ts`),
    { PORT: "0", HOSTNAME: "127.0.0.1", ...entryEnv },
    /entry listening .*address=http:\/\/127\.0\.0\.1:(\d+)/,
  );
  const port = Number(entry.match[1]);
  const client = await spawnUntil(
    [...run(clientRuntime, `${dir}/client.ts`), "--server", `http://127.0.0.1:${port}`, "--session", "bench", "--token", "bench", "--to", `http://127.0.0.1:${targetPort}`],
    // Bun caps concurrent fetches at 256 unless told otherwise; match the client's default bound.
    { BUN_CONFIG_MAX_HTTP_REQUESTS: "1024" },
    /Forwarding (\S+) ->/,
  );
  const name = writer === "locked-flush" ? `locked-flush baseline (${runtime})` : `tunnel2 ${runtime}`;
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    host: `bench.localhost:${port}`,
    pids: { entry: entry.proc.pid, client: client.proc.pid },
    stop: stopper(client.proc, entry.proc),
  };
}

/** Peak RSS (MiB) of a system's entry and client so far. */
export async function peakRss(system: System): Promise<{ entry?: number; client?: number }> {
  const out: { entry?: number; client?: number } = {};
  if (system.pids.entry) out.entry = Math.round(await peakRssMiB(system.pids.entry));
  if (system.pids.client) out.client = Math.round(await peakRssMiB(system.pids.client));
  return out;
}

/** Current RSS (MiB) of a process. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

export { stopAll };

/** CPU time (user + system, ms) a process has used so far, from /proc (Linux). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Runs bench/metrics-micro.ts under `runtime`: the metrics' own work per request, in ns. */
export async function metricsWorkPerRequestNs(runtime: Runtime): Promise<number> {
  const proc = Bun.spawn(run(runtime, "bench/metrics-micro.ts"), { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`bench/metrics-micro.ts failed under ${runtime}`);
  return JSON.parse(out).perRequestNs;
}
