/**
 * A CPU profile of tunnel2's entry and client under load:
 *
 *   bun run bench/lib/profile.ts [--runtime=bun|deno] [--seconds=10] [--c=50] [--out=DIR]
 *
 * Two passes, each on a fresh tunnel (entry and client on the runtime named,
 * to the bench target), warmed up for 8 s at c, then loaded for seconds + 2:
 * 1. the runtime's own sampling profiler (`--cpu-prof`: Bun's JavaScriptCore
 *    sampler, Deno's V8 profiler), written when the processes stop, its
 *    samples read for the loaded window only;
 * 2. `perf record -g` on each process for `seconds` (when perf is on PATH and
 *    allowed), with JIT code maps (Bun: `BUN_JSC_useJITDump=1`, its jit-*.dump
 *    turned into /tmp/perf-<pid>.map by ./jitdump-perf-map.ts; Deno: V8's
 *    `--perf-basic-prof`). Not together with 1: Bun's sampler suspends the
 *    thread with signals a thousand times a second, which perf would count.
 * It prints per process the top self-time functions of each, perf's split by
 * binary and the kernel's time by system call, and keeps everything in DIR
 * (/tmp/tunnel2-profile-<runtime>-<time> by default) for `perf report -i` and
 * Chrome DevTools.
 *
 * Reading it: the runtime profiler sees JavaScript and the native functions
 * JavaScript calls (`send`, `Response`, …); Bun's samples with no JavaScript
 * on the stack (its HTTP and WebSocket machinery, run from the event loop)
 * show as "(native, no JS frame)", V8's as "(program)". perf sees everything
 * on the CPU, the kernel included, but Bun's and Deno's binaries ship without
 * symbols, so their native code shows as addresses (summed per binary in the
 * split). Profilers cost CPU themselves: compare shares, not rates.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { withCpu } from "./cpu.ts";
import { perfMapLines } from "./jitdump-perf-map.ts";
import { load } from "./load-tool.ts";
import { type Extras, type Runtime, startTarget, startTunnel, stopAll } from "./systems.ts";

const ROOT = join(import.meta.dir, "..", "..");

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The .cpuprofile format both runtimes write (Chrome DevTools'). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self samples per function (name and location), counted, not weighted by
 * the time to the next sample: Bun's sampler takes no samples while the
 * thread waits for events, so the sample after a wait carries the wait.
 * Only samples from `lastUs` before the profile's end when given; "(idle)"
 * samples are left out.
 */
export function cpuProfileTop(profile: CpuProfile, n: number, lastUs = Infinity): { samples: number; rows: { name: string; share: number }[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const rootId = profile.nodes[0].id;
  const label = (node: ProfileNode): string => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (!url && (!functionName || functionName === "(anonymous)") && parent.get(node.id) === rootId) return "(native, no JS frame)";
    if (functionName.startsWith("(") && functionName !== "(anonymous)") return functionName; // V8's (program), (garbage collector), (idle)
    if (!url) return `${functionName || "(anonymous)"} [native]`;
    const file = url.replace(/^file:\/\//, "").replace(ROOT + "/", "");
    return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
  };
  const from = profile.endTime - lastUs;
  const counts = new Map<string, number>();
  let t = profile.startTime;
  let samples = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    const name = label(byId.get(id)!);
    if (t < from || name.startsWith("(idle)")) return;
    samples++;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  });
  const rows = [...counts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, c]) => ({ name, share: c / Math.max(1, samples) }));
  return { samples, rows };
}

/** Lines of `perf report` (percent, then the rest), the header left out. */
function perfLines(out: string): { share: number; what: string }[] {
  return out.split("\n").flatMap((line) => {
    const m = line.match(/^\s+([\d.]+)%\s+(.*\S)\s*$/);
    return m ? [{ share: Number(m[1]) / 100, what: m[2].replace(/\s+/g, " ") }] : [];
  });
}

async function output(cmd: string[]): Promise<string> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  return out;
}

/** Whether `perf record` works here (on PATH, and perf_event_paranoid lets us). */
async function perfWorks(): Promise<boolean> {
  if (!Bun.which("perf")) return false;
  const proc = Bun.spawn(["perf", "record", "-o", "/dev/null", "--", "true"], { stdout: "ignore", stderr: "ignore" });
  return (await proc.exited) === 0;
}

type Profiler = "cpu-prof" | "perf";
type Process = "entry" | "client";

/** What each process is started with: the runtime's sampler, or JIT maps for perf (not both: each skews the other). */
function profilerExtras(profiler: Profiler, runtime: Runtime, dir: string): Extras {
  if (profiler === "cpu-prof") return { args: ["--cpu-prof", `--cpu-prof-dir=${dir}`] };
  return runtime === "bun"
    ? { env: { BUN_JSC_useJITDump: "1", BUN_JSC_jitDumpDirectory: dir } }
    : { args: [`--v8-flags=--perf-basic-prof,--no-logfile-per-isolate,--logfile=${dir}/v8.log`] };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Kernel time by the system call or trap it was spent under (inclusive), from a perf record -g. */
async function kernelEntries(data: string): Promise<{ share: number; what: string }[]> {
  const out = await output(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "sym", "-g", "none"]);
  return out.split("\n").flatMap((line) => {
    const m = line.match(/^\s+([\d.]+)%\s+[\d.]+%\s+\[k\]\s+((?:__x64_sys_|asm_exc_|asm_sysvec_)\S+)/);
    return m ? [{ share: Number(m[1]) / 100, what: m[2].replace(/^__x64_sys_/, "") }] : [];
  });
}

/** One pass: a fresh tunnel with `profiler` on in entry and client, warmed up, loaded, stopped; its report lines. */
async function profilePass(profiler: Profiler, runtime: Runtime, targetPort: number, c: number, seconds: number, out: string): Promise<string[]> {
  const dirs = { entry: join(out, profiler, "entry"), client: join(out, profiler, "client") };
  for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true });
  const tunnel = await startTunnel(runtime, targetPort, "stream", {}, runtime, {
    entry: profilerExtras(profiler, runtime, dirs.entry),
    client: profilerExtras(profiler, runtime, dirs.client),
  });
  const pids: Record<Process, number> = { entry: tunnel.pids.entry!, client: tunnel.pids.client! };
  const run = (s: number) => load({ url: tunnel.url + "/", host: tunnel.host, connections: c, seconds: s });
  await run(8); // warm-up
  const windowStart = performance.now();
  // perf samples `seconds` from 1 s into a load of seconds + 2.
  const recordings = profiler === "perf"
    ? (Object.keys(pids) as Process[]).map((k) =>
      Bun.sleep(1000).then(() => output(["perf", "record", "-F", "999", "-g", "-p", String(pids[k]), "-o", join(out, profiler, `${k}.perf.data`), "--", "sleep", String(seconds)]))
    )
    : [];
  const measured = await withCpu(pids, () => run(seconds + 2));
  await Promise.all(recordings);
  await tunnel.stop(); // SIGTERM: the runtime profilers write their files on exit
  const windowUs = (performance.now() - windowStart) * 1000;

  const report = [
    `## ${profiler === "cpu-prof" ? "Runtime profiler (--cpu-prof)" : "perf record -g, JIT maps"}`,
    "",
    `wrk c=${c}, ${seconds + 2} s after an 8 s warm-up: ${measured.rps.toFixed(0)} RPS, p50 ${measured.p50.toFixed(2)} ms, ${measured.errors} errors; ` +
    `CPU per request with the profiler on: entry ${measured.cpuUsPerRequest.entry.toFixed(0)} µs, client ${measured.cpuUsPerRequest.client.toFixed(0)} µs.`,
  ];
  for (const k of Object.keys(pids) as Process[]) {
    const files = await readdir(dirs[k]);
    report.push("", `### ${k} (pid ${pids[k]})`, "");
    if (profiler === "cpu-prof") {
      const file = files.find((f) => f.endsWith(".cpuprofile"));
      if (!file) {
        report.push("(no .cpuprofile was written)");
        continue;
      }
      const top = cpuProfileTop(await Bun.file(join(dirs[k], file)).json(), 15, windowUs);
      report.push(`Self samples of the loaded window (${top.samples}; ${join(dirs[k], file)}):`, "");
      report.push("| self | function |", "|---|---|", ...top.rows.map((r) => `| ${pct(r.share)} | \`${r.name}\` |`));
      continue;
    }
    const dump = files.find((f) => f.startsWith("jit-") && f.endsWith(`-${pids[k]}.dump`));
    if (dump) {
      const { pid, lines } = perfMapLines(await Bun.file(join(dirs[k], dump)).bytes());
      await Bun.write(`/tmp/perf-${pid}.map`, lines.join("\n") + "\n");
    }
    const data = join(out, profiler, `${k}.perf.data`);
    const base = ["perf", "report", "-i", data, "--stdio", "--no-children", "-g", "none"];
    const split = perfLines(await output([...base, "--sort", "dso"])).slice(0, 6);
    const top = perfLines(await output([...base, "--sort", "dso,sym"])).slice(0, 15);
    const kernel = (await kernelEntries(data)).slice(0, 10);
    report.push(`Whole process, ${seconds} s (${data}): ${split.map((l) => `${l.what} ${pct(l.share)}`).join(", ")}.`, "");
    report.push(`Kernel time by system call or trap (inclusive): ${kernel.map((l) => `${l.what} ${pct(l.share)}`).join(", ")}.`, "");
    report.push("| self | where | symbol |", "|---|---|---|", ...top.map((l) => {
      const [, dso, sym] = l.what.match(/^(.*?) \[[k.]\] (.*)$/) ?? [, l.what, ""];
      return `| ${pct(l.share)} | ${dso} | \`${sym}\` |`;
    }));
  }
  return report;
}

async function main() {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: { runtime: { type: "string", default: "bun" }, seconds: { type: "string", default: "10" }, c: { type: "string", default: "50" }, out: { type: "string" } },
  });
  const runtime = values.runtime as Runtime;
  const seconds = Number(values.seconds);
  const c = Number(values.c);
  const out = values.out ?? `/tmp/tunnel2-profile-${runtime}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const perf = await perfWorks();
  const report = [`# tunnel2 ${runtime}: entry and client under load (files: ${out})`, ""];
  try {
    const target = await startTarget();
    report.push(...await profilePass("cpu-prof", runtime, target.port, c, seconds, out), "");
    if (perf) report.push(...await profilePass("perf", runtime, target.port, c, seconds, out));
    else report.push("(perf is not available here: no whole-process profile)");
  } finally {
    await stopAll();
  }
  const text = report.join("\n");
  await Bun.write(join(out, "report.md"), text + "\n");
  console.log(text);
}

if (import.meta.main) await main();
