/**
 * Benchmarks: `bun run bench/run.ts [scenario…] [--quick] [--runtime=bun|deno]`.
 *
 * Scenarios: origin, throughput, open-loop, bulk, head-of-line, memory,
 * metrics-cost, ws-echo, cluster, cpu, inspector-cost, access-cost (all by default). cpu: µs of
 * CPU per small request for each process (entry, client, the one-hop proxy,
 * the target), next to RPS, at c=50 and c=10, after an 8 s warm-up of each
 * system, in rotating rounds; ~3 min per runtime (`cpu --quick`: ~1 min,
 * Bun only unless --runtime says). cluster (two entries sharing
 * a session through a throwaway redis-server: local vs forwarded requests, and
 * recovery after kill -9 of the holding entry) needs redis-server on PATH and
 * is skipped, saying so, without it. Everything runs on loopback and is
 * stopped at the end. Each scenario writes bench/results/<date>-<scenario>.json and prints a markdown
 * table. A full run (all scenarios, not --quick) also rewrites
 * bench/RESULTS.md and bench/latency-vs-concurrency.svg; notes below the
 * `<!-- notes -->` marker in RESULTS.md are kept.
 * `--quick` (under a minute: origin and throughput, short) is for before/after
 * checks during development; CI does not run benchmarks.
 */
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pickOpenLoopTool, pickTool, toolVersion } from "./lib/load-tool.ts";
import { lineChart } from "./lib/svg-chart.ts";
import type { Runtime } from "./lib/systems.ts";
import { stopAll } from "./lib/systems.ts";
import { SCENARIOS, type ScenarioName, type ScenarioResult } from "./scenarios.ts";

const HERE = import.meta.dir;
const { values, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  options: { quick: { type: "boolean" }, runtime: { type: "string" }, help: { type: "boolean" } },
  allowPositionals: true,
});
if (values.help) {
  console.log(`Usage: bun run bench/run.ts [${Object.keys(SCENARIOS).join("|")} …] [--quick] [--runtime=bun|deno]`);
  process.exit(0);
}
const unknown = positionals.filter((p) => !(p in SCENARIOS));
if (unknown.length) {
  console.error(`Unknown scenario: ${unknown.join(", ")} (choose from ${Object.keys(SCENARIOS).join(", ")})`);
  process.exit(2);
}
const quick = values.quick ?? false;
const runtimes = (values.runtime ? [values.runtime] : ["bun", "deno"]) as Runtime[];
const chosen = (positionals.length ? positionals : quick ? ["origin", "throughput"] : Object.keys(SCENARIOS)) as ScenarioName[];
const quickRuntimes: Runtime[] = quick && !values.runtime ? ["bun"] : runtimes;

const date = new Date().toISOString().slice(0, 10);
const tools = [...new Set([pickTool(), pickOpenLoopTool()])];
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  bun: Bun.version,
  deno: (await new Response(Bun.spawn([join(HERE, "..", "node_modules", "deno", "deno"), "--version"]).stdout).text()).split("\n")[0],
  tools: await Promise.all(tools.map(toolVersion)),
};
console.log(`tunnel2 benchmarks ${date}: ${machine.cores} cores, ${machine.cpu}; Bun ${machine.bun}, ${machine.deno}; ${machine.tools.join(", ")}${quick ? " (quick)" : ""}\n`);

const results: ScenarioResult[] = [];
const cleanup = () => stopAll().finally(() => process.exit(130));
process.on("SIGINT", cleanup);
process.on("SIGTERM", cleanup);
try {
  for (const name of chosen) {
    const started = Date.now();
    const result = await SCENARIOS[name]({ quick, runtimes: quickRuntimes });
    results.push(result);
    await Bun.write(join(HERE, "results", `${date}-${name}${quick ? "-quick" : ""}.json`), JSON.stringify({ date, quick, machine, ...result }, null, 2));
    console.log(`## ${name} (${((Date.now() - started) / 1000).toFixed(0)} s)\n\n${result.table}\n`);
    for (const c of result.checks) console.log(`- ${c.met ? "met" : "MISSED"}: ${c.target} — ${c.measured}`);
    console.log();
  }
} finally {
  await stopAll();
}

function chart(result: ScenarioResult): string {
  const bySystem = new Map<string, [number, number][]>();
  for (const r of result.rows) {
    const points = bySystem.get(r.system as string) ?? [];
    points.push([r.c as number, r.p50 as number]);
    bySystem.set(r.system as string, points);
  }
  return lineChart({
    title: "p50 latency vs concurrency (target answers after 40 ms)",
    xLabel: "concurrent requests (log)",
    yLabel: "p50 latency, ms (log)",
    logX: true,
    logY: true,
    series: [...bySystem].map(([name, points]) => ({ name, points })),
  });
}

const originResult = results.find((r) => r.name === "origin");
if (originResult && !quick) await Bun.write(join(HERE, "latency-vs-concurrency.svg"), chart(originResult));

if (!quick && chosen.length === Object.keys(SCENARIOS).length) {
  const path = join(HERE, "RESULTS.md");
  const old = (await Bun.file(path).exists()) ? await Bun.file(path).text() : "";
  const notes = old.includes("<!-- notes -->") ? old.slice(old.indexOf("<!-- notes -->")) : "<!-- notes -->\n";
  const sections = results.map((r) => [
    `## ${r.name}`,
    "",
    r.table,
    "",
    ...r.checks.map((c) => `- ${c.met ? "**met**" : "**missed**"}: ${c.target} — ${c.measured}`),
    "",
  ].join("\n"));
  await Bun.write(path, [
    "# Benchmark results",
    "",
    `Latest full run: ${date}, \`bun run bench/run.ts\`. Machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB;`,
    `Bun ${machine.bun}, ${machine.deno}; load: ${machine.tools.join(", ")}. Load tool, target, entry and client share the cores,`,
    "so compare ratios within one run, not absolute numbers across runs. Raw figures: `bench/results/`.",
    "",
    "![p50 latency vs concurrency](latency-vs-concurrency.svg)",
    "",
    ...sections,
    notes,
  ].join("\n"));
  console.log(`Wrote ${path}`);
}
