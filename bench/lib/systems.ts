/**
 * The systems a benchmark compares, each started fresh on loopback: the
 * target alone, tunnel2 (Bun or Deno, real or locked-flush writer), the
 * one-hop fetch proxy, and two entries sharing a session through Redis.
 */
import { join, resolve } from "node:path";
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
  /** Its own processes (memory and CPU are read from them). */
  pids: { entry?: number; client?: number; proxy?: number };
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

/** Runtime flags (before the script) and environment for one process, e.g. a profiler's. */
export interface Extras {
  args?: string[];
  env?: Record<string, string>;
  /** Another checkout's `src/` to run instead of this one's (a before/after comparison). */
  sourceDir?: string;
}

function run(runtime: Runtime, script: string, args: string[] = []): string[] {
  const path = resolve(ROOT, script);
  return runtime === "bun"
    ? [process.execPath, ...args, "run", path]
    : [DENO, "run", "--allow-net", "--allow-env", "--allow-read", "--unstable-no-legacy-abort", ...args, path];
}

export async function startTarget(): Promise<{ port: number; pid: number }> {
  const t = await spawnUntil([process.execPath, "run", join(ROOT, "bench/target.ts")], { PORT: "0" }, /target listening on (\d+)/);
  return { port: Number(t.match[1]), pid: t.proc.pid };
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
  return { name: "one-hop fetch proxy (Bun)", url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, pids: { proxy: p.proc.pid }, stop: stopper(p.proc) };
}

/**
 * What tunnel2's own launchers (bin/tunnel2.mjs, the npm scripts, the Dockerfile)
 * give Bun processes: mimalloc keeps freed pages instead of returning them at
 * once (its madvise calls and the page faults after them were 9–11 % of each
 * process's CPU; see RESULTS.md "CPU per request").
 */
// No request inspector unless a scenario asks for one (the inspector scenario compares with and without).
export const TUNNEL_PROCESS_ENV: Record<string, string> = { MIMALLOC_PURGE_DELAY: "-1", TUNNEL_INSPECT: "off" };

const ENTRY_READY = /entry listening .*address=http:\/\/127\.0\.0\.1:(\d+)/;

/** Starts an entry on a free loopback port; `ready` must capture the port. */
async function spawnEntry(runtime: Runtime, dir: string, env: Record<string, string>, ready = ENTRY_READY, extras: Extras = {}) {
  const entry = await spawnUntil(run(runtime, `${dir}/server.ts`, extras.args), { PORT: "0", HOSTNAME: "127.0.0.1", ...TUNNEL_PROCESS_ENV, ...env, ...extras.env }, ready);
  return { proc: entry.proc, port: Number(entry.match[1]) };
}

/** Starts a client for `session` with `--server servers` (one entry's URL, or several comma-separated). */
async function spawnClient(runtime: Runtime, dir: string, servers: string, session: string, targetPort: number, extras: Extras = {}) {
  return await spawnUntil(
    [...run(runtime, `${dir}/client.ts`, extras.args), "--server", servers, "--session", session, "--token", "bench", "--to", `http://127.0.0.1:${targetPort}`],
    // Bun caps concurrent fetches at 256 unless told otherwise; match the client's default bound.
    { BUN_CONFIG_MAX_HTTP_REQUESTS: "1024", ...TUNNEL_PROCESS_ENV, ...extras.env },
    /Forwarding (\S+) ->/,
  );
}

export async function startTunnel(
  runtime: Runtime,
  targetPort: number,
  writer: Writer = "stream",
  entryEnv: Record<string, string> = {},
  clientRuntime: Runtime = runtime,
  extras: { entry?: Extras; client?: Extras } = {},
): Promise<System> {
  const dir = writer === "locked-flush" ? "bench/locked-flush" : "src";
  const entry = await spawnEntry(runtime, extras.entry?.sourceDir ?? dir, entryEnv, ENTRY_READY, extras.entry);
  const client = await spawnClient(clientRuntime, extras.client?.sourceDir ?? dir, `http://127.0.0.1:${entry.port}`, "bench", targetPort, extras.client);
  const name = writer === "locked-flush" ? `locked-flush baseline (${runtime})` : `tunnel2 ${runtime}`;
  return {
    name,
    url: `http://127.0.0.1:${entry.port}`,
    host: `bench.localhost:${entry.port}`,
    pids: { entry: entry.proc.pid, client: client.proc.pid },
    stop: stopper(client.proc, entry.proc),
  };
}

/**
 * Two entries, A and B, sharing sessions through Redis, and a
 * client for `session` with `--server A,B` (so its uplinks are on A, and move
 * to B when A is lost). The same session seen two ways: `local` sends
 * visitors to A, which holds it; `forwarded` to B, which forwards them to A.
 */
export interface EntryPair {
  local: System;
  forwarded: System;
  /** The current client's output so far (its log says where its uplinks went and after what wait). */
  clientOutput(): string;
  /** A fresh client in place of the old one, its uplinks on A again. */
  restartClient(): Promise<void>;
  /** kill -9 of entry A. */
  killA(): void;
  stop(): Promise<void>;
}

export async function startEntryPair(runtime: Runtime, targetPort: number, redisUrl: string, session: string): Promise<EntryPair> {
  // Ready once the entry has joined the cluster (that line follows the listening one).
  const ready = new RegExp(`${ENTRY_READY.source}[\\s\\S]*sharing sessions through redis`);
  const env = (id: string) => ({ REDIS_URL: redisUrl, TUNNEL_PEER_SECRET: "bench-peer-secret", TUNNEL_INSTANCE_ID: `${session}-${id}` });
  const [a, b] = await Promise.all([spawnEntry(runtime, "src", env("a"), ready), spawnEntry(runtime, "src", env("b"), ready)]);
  const startClient = () => spawnClient(runtime, "src", `http://127.0.0.1:${a.port},http://127.0.0.1:${b.port}`, session, targetPort);
  let client = await startClient();
  const system = (name: string, port: number, entryPid: number): System => ({
    name,
    url: `http://127.0.0.1:${port}`,
    host: `${session}.localhost:${port}`,
    pids: { entry: entryPid, client: client.proc.pid },
    stop: async () => {},
  });
  const local = system(`local (visitor -> A -> client), ${runtime}`, a.port, a.proc.pid);
  const forwarded = system(`forwarded (visitor -> B -> A -> client), ${runtime}`, b.port, b.proc.pid);
  return {
    local,
    forwarded,
    clientOutput: () => client.output(),
    async restartClient() {
      await stopper(client.proc)();
      client = await startClient();
      local.pids.client = forwarded.pids.client = client.proc.pid;
    },
    killA: () => a.proc.kill("SIGKILL"),
    stop: async () => await stopper(client.proc, b.proc, a.proc)(),
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
/** A throwaway redis-server on loopback (the cluster tests' own). */
export { hasRedis, startRedis } from "../../test/helpers/redis-server.ts";

/** Runs bench/metrics-micro.ts under `runtime`: the metrics' own work per request, in ns. */
export async function metricsWorkPerRequestNs(runtime: Runtime): Promise<number> {
  const proc = Bun.spawn(run(runtime, "bench/metrics-micro.ts"), { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(proc.stdout).text();
  if ((await proc.exited) !== 0) throw new Error(`bench/metrics-micro.ts failed under ${runtime}`);
  return JSON.parse(out).perRequestNs;
}
