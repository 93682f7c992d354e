/**
 * Drives the load tool: oha where it is on PATH (what our users have), else
 * wrk, else autocannon (a devDependency). Every result records its tool.
 */
import { join } from "node:path";

export type ToolName = "oha" | "wrk" | "autocannon";

export interface LoadResult {
  tool: ToolName;
  rps: number;
  /** Latencies in milliseconds. */
  p50: number;
  p99: number;
  max: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx answers. */
  errors: number;
}

const ROOT = join(import.meta.dir, "..", "..");

function onPath(name: string): boolean {
  return Bun.which(name) !== null;
}

/** The closed-loop tool to use; `prefer` forces one (for tests of the parsers). */
export function pickTool(prefer?: ToolName): ToolName {
  if (prefer) return prefer;
  if (onPath("oha")) return "oha";
  if (onPath("wrk")) return "wrk";
  return "autocannon";
}

/** The open-loop tool: wrk cannot hold a fixed rate, so oha, else autocannon. */
export function pickOpenLoopTool(): ToolName {
  return onPath("oha") ? "oha" : "autocannon";
}

async function run(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", cwd: ROOT });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  if (code !== 0) throw new Error(`${cmd[0]} exited ${code}: ${err.slice(0, 500)}`);
  return out + err;
}

/** wrk's duration units → ms. */
function ms(text: string): number {
  const m = text.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/** Parses `wrk --latency` output. */
export function parseWrk(out: string): LoadResult {
  const line = (label: string) => out.split("\n").find((l) => l.trim().startsWith(label))?.trim().split(/\s+/) ?? [];
  const socketErrors = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  return {
    tool: "wrk",
    rps: Number(line("Requests/sec:")[1]),
    p50: ms(line("50%")[1]),
    p99: ms(line("99%")[1]),
    max: ms(line("Latency")[3]),
    requests: Number(out.match(/(\d+) requests in/)?.[1] ?? 0),
    errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0),
  };
}

/** Parses `oha --output-format json` (times in seconds). */
export function parseOha(out: string): LoadResult {
  const j = JSON.parse(out);
  const statuses: Record<string, number> = j.statusCodeDistribution ?? {};
  const ok = Object.entries(statuses).filter(([code]) => code.startsWith("2")).reduce((n, [, c]) => n + c, 0);
  const all = Object.values(statuses).reduce((n, c) => n + c, 0);
  const errors = Object.values(j.errorDistribution ?? {}).reduce((n: number, c) => n + (c as number), 0);
  return {
    tool: "oha",
    rps: j.summary.requestsPerSec,
    p50: j.latencyPercentiles.p50 * 1000,
    p99: j.latencyPercentiles.p99 * 1000,
    max: j.summary.slowest * 1000,
    requests: all + errors,
    errors: all - ok + errors,
  };
}

/** Parses `autocannon --json`. */
export function parseAutocannon(out: string): LoadResult {
  const j = JSON.parse(out.slice(out.indexOf("{")));
  return {
    tool: "autocannon",
    rps: j.requests.average,
    p50: j.latency.p50,
    p99: j.latency.p99,
    max: j.latency.max,
    requests: j.requests.total,
    errors: j.errors + j.timeouts + j.non2xx,
  };
}

export interface LoadOptions {
  url: string;
  host: string;
  connections: number;
  seconds: number;
  /** Open loop: a fixed arrival rate (requests/s) instead of a closed loop. */
  rate?: number;
  tool?: ToolName;
  /** More request headers, `Name: value` each. */
  headers?: string[];
}

/** Runs one load and returns its figures. */
export async function load(o: LoadOptions): Promise<LoadResult> {
  const tool = o.tool ?? (o.rate ? pickOpenLoopTool() : pickTool());
  switch (tool) {
    case "oha":
      return parseOha(await run([
        "oha", "--no-tui", "--output-format", "json", "-z", `${o.seconds}s`, "-c", String(o.connections),
        ...(o.rate ? ["-q", String(o.rate)] : []), "-H", `Host: ${o.host}`, ...(o.headers ?? []).flatMap((h) => ["-H", h]), o.url,
      ]));
    case "wrk":
      if (o.rate) throw new Error("wrk cannot hold a fixed arrival rate");
      return parseWrk(await run([
        "wrk", `-t${Math.min(2, o.connections)}`, `-c${o.connections}`, `-d${o.seconds}s`, "--latency", "--timeout", "30s", "-H", `Host: ${o.host}`, ...(o.headers ?? []).flatMap((h) => ["-H", h]), o.url,
      ]));
    case "autocannon":
      return parseAutocannon(await run([
        join(ROOT, "node_modules", ".bin", "autocannon"), "--json", "-c", String(o.connections), "-d", String(o.seconds),
        ...(o.rate ? ["--overallRate", String(o.rate)] : []), "-H", `host=${o.host}`,
        ...(o.headers ?? []).flatMap((h) => ["-H", `${h.slice(0, h.indexOf(":"))}=${h.slice(h.indexOf(":") + 1).trim()}`]), o.url,
      ]));
  }
}

/** Tool versions, for the record. */
export async function toolVersion(tool: ToolName): Promise<string> {
  try {
    if (tool === "autocannon") {
      const pkg = await Bun.file(join(ROOT, "node_modules", "autocannon", "package.json")).json();
      return `autocannon ${pkg.version}`;
    }
    // wrk prints its version and exits 1; read whatever it printed.
    const proc = Bun.spawn([tool, "--version"], { stdout: "pipe", stderr: "pipe" });
    const out = (await new Response(proc.stdout).text()) + (await new Response(proc.stderr).text());
    return out.split("\n")[0].replace(/ Copyright.*$/, "").trim();
  } catch {
    return tool;
  }
}
