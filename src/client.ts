/**
 * The tunnel2 client agent:
 * `bun run src/client.ts --server URL[,URL…] --session NAME --token TOKEN --to URL`
 * (or `deno task client …`). Settings come from flags and environment.
 */
import process from "node:process";
import { type AgentStatus, startAgent } from "./client/agent.ts";
import type { ClientRuntime } from "./client/client-runtime.ts";
import { uplinksOn } from "./client/server-choice.ts";
import { clientConfig, readConfigOrExit } from "./config.ts";
import { createLogger, escapeControls } from "./log.ts";
import { runtimeName } from "./adapter/runtime-name.ts";

async function loadRuntime(): Promise<ClientRuntime> {
  return runtimeName() === "bun"
    ? (await import("./adapter/bun/target-fetch.ts")).bunClientRuntime
    : (await import("./adapter/deno/target-fetch.ts")).denoClientRuntime;
}

/** A live status line on a terminal: uplinks and their entries, requests/s, p50/p99, last error. */
function startStatusLine(status: () => AgentStatus): void {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "—");
  const timer = setInterval(() => {
    const s = status();
    const line = `uplinks ${s.uplinksUp}/${s.uplinksWanted}${uplinksOn(s.uplinkServers)} · ${s.rps.toFixed(1)} req/s (last min)` +
      ` · p50 ${ms(s.p50)} · p99 ${ms(s.p99)}` +
      ` · last error: ${s.lastError ?? "none"}`;
    process.stdout.write(`\r\x1b[2K${escapeControls(line)}`);
  }, 1000);
  (timer as { unref?: () => void }).unref?.();
}

async function main(): Promise<void> {
  const config = readConfigOrExit(() => clientConfig(process.argv.slice(2), process.env));
  const log = createLogger(config.logFormat);
  const runtime = await loadRuntime();
  const agent = startAgent(config, runtime, log, {
    onReady(url) {
      const to = `${config.target.origin}${config.target.pathname.replace(/\/$/, "")}`;
      // The URL and refusal reasons come from the entry: never written to the terminal raw.
      if (config.logFormat === "json") console.log(escapeControls(JSON.stringify({ time: new Date().toISOString(), level: "info", msg: "forwarding", url, to })));
      else console.log(escapeControls(`Forwarding ${url} -> ${to}`));
      if (config.logFormat === "text" && process.stdout.isTTY) startStatusLine(() => agent.status());
    },
    onRefused(reason) {
      console.error(escapeControls(`Refused by the entry: ${reason}`));
      process.exit(1);
    },
  });
  const stop = () => {
    agent.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

await main();
