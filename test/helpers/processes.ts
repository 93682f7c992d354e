/**
 * Starts real entry and client processes on loopback, under Bun or Deno,
 * and waits until each says it is ready. Every process started is killed by
 * `stopAll()`.
 */
import { join } from "node:path";
import type { Subprocess } from "bun";

export type Runtime = "bun" | "deno";

const ROOT = join(import.meta.dir, "..", "..");
const DENO = join(ROOT, "node_modules", "deno", "deno");

const started = new Set<Subprocess>();

/** Deno's permissions and flags per script, as deno.json's tasks give them (what users run). */
const DENO_FLAGS: Record<string, string[]> = {
  "src/server.ts": ["--allow-net", "--allow-env", "--allow-read", "--allow-sys=hostname", "--unstable-no-legacy-abort"],
  "src/client.ts": ["--allow-net", "--allow-env", "--allow-read"],
};
const DENO_DEFAULT_FLAGS = ["--allow-net", "--allow-env", "--allow-read", "--unstable-no-legacy-abort"];

/**
 * The command line that runs `script` (relative to the repository) under
 * `runtime`, as the launchers run it: Bun with MIMALLOC_PURGE_DELAY=-1
 * (through `env`, which execs it: the pid stays Bun's), Deno with its task's
 * permissions.
 */
export function command(runtime: Runtime, script: string): string[] {
  return runtime === "bun"
    ? ["env", "MIMALLOC_PURGE_DELAY=-1", process.execPath, "run", join(ROOT, script)]
    : [DENO, "run", ...(DENO_FLAGS[script] ?? DENO_DEFAULT_FLAGS), join(ROOT, script)];
}

/** A started process and the text it printed so far. */
export interface Started {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output: () => string;
}

async function collect(stream: ReadableStream<Uint8Array>, sink: { text: string }, onText: () => void) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    sink.text += decoder.decode(chunk, { stream: true });
    onText();
  }
}

/** Spawns (in `cwd`, the repository by default) and resolves once `ready` matches the combined output. */
export async function spawnUntil(
  cmd: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 20_000,
  cwd = ROOT,
): Promise<Started & { match: RegExpMatchArray }> {
  const proc = Bun.spawn(cmd, {
    cwd,
    // No request inspector unless a test asks for one: many clients at once would contend for port 4040 and up.
    env: { ...process.env, NO_COLOR: "1", TUNNEL_INSPECT: "off", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  started.add(proc);
  const sink = { text: "" };
  let wake = () => {};
  const changed = () => wake();
  collect(proc.stdout, sink, changed);
  collect(proc.stderr, sink, changed);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = sink.text.match(ready);
    if (match) return { proc, output: () => sink.text, match };
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill();
      throw new Error(`Not ready (${cmd.join(" ")}; exit ${proc.exitCode}):\n${sink.text}`);
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, 50);
    });
  }
}

export interface Entry extends Started {
  port: number;
  runtime: Runtime;
  /** https when started with --tls-cert/--tls-key. */
  scheme: "http" | "https";
}

/** Options of {@linkcode startEntry}. */
export interface EntryOptions {
  /** Runs the entry under `ulimit -n` of this many descriptors. */
  maxOpenFiles?: number;
  /** Flags after the script, e.g. `--tls-cert FILE --tls-key FILE`. */
  args?: string[];
}

/** Starts an entry on a free loopback port. */
export async function startEntry(runtime: Runtime, env: Record<string, string> = {}, options: EntryOptions = {}): Promise<Entry> {
  const cmd = [...command(runtime, "src/server.ts"), ...(options.args ?? [])];
  const s = await spawnUntil(
    options.maxOpenFiles === undefined ? cmd : ["bash", "-c", `ulimit -n ${options.maxOpenFiles} && exec "$@"`, "bash", ...cmd],
    { PORT: "0", HOSTNAME: "127.0.0.1", ...env },
    /entry listening .*address=(https?):\/\/127\.0\.0\.1:(\d+)/,
  );
  return { ...s, port: Number(s.match[2]), runtime, scheme: s.match[1] as Entry["scheme"] };
}

/**
 * Starts a client for `session` and waits for its public URL. `entry` is an
 * entry on loopback (dialled with its scheme), or the `--server` value itself
 * (e.g. several, comma-separated). `env`: e.g. the CA to trust.
 */
export async function startClient(
  runtime: Runtime,
  entry: { port: number; scheme?: "http" | "https" } | string,
  session: string,
  targetUrl: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<Started & { url: string }> {
  const s = await spawnUntil(
    [
      ...command(runtime, "src/client.ts"),
      "--server", typeof entry === "string" ? entry : `${entry.scheme ?? "http"}://127.0.0.1:${entry.port}`,
      "--session", session,
      "--token", "test-token",
      "--to", targetUrl,
      ...extraArgs,
    ],
    env,
    /Forwarding (\S+) ->/,
  );
  return { ...s, url: s.match[1] };
}

/** Runs a process to its end and returns its exit code and output. */
export async function runToEnd(runtime: Runtime, script: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([...command(runtime, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  started.add(proc);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

/** Peak resident memory of a process in MiB (VmHWM). */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(status.match(/VmHWM:\s+(\d+)/)![1]) / 1024;
}

export async function stopAll(): Promise<void> {
  for (const proc of started) proc.kill();
  await Promise.all([...started].map((p) => p.exited));
  started.clear();
}
