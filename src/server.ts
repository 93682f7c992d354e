/**
 * The tunnel2 entry: `bun run src/server.ts` or `deno task serve`.
 * Settings come from flags and environment (see `config.ts`).
 */
import process from "node:process";
import { entryConfig, readConfigOrExit } from "./config.ts";
import { createEntryApp } from "./entry/entry-app.ts";
import type { EntryRuntime, ServerHandle } from "./entry/entry-runtime.ts";
import { drainEntry } from "./entry/drain.ts";
import { SessionRegistry } from "./entry/session-registry.ts";
import { createLogger } from "./log.ts";
import { runtimeName } from "./adapter/runtime-name.ts";

async function loadRuntime(): Promise<EntryRuntime> {
  return runtimeName() === "bun"
    ? (await import("./adapter/bun/serve.ts")).bunEntryRuntime
    : (await import("./adapter/deno/serve.ts")).denoEntryRuntime;
}

async function main(): Promise<void> {
  const config = readConfigOrExit(() => entryConfig(process.argv.slice(2), process.env));
  const log = createLogger(config.logFormat);
  const runtime = await loadRuntime();
  const registry = new SessionRegistry();
  const state = { draining: false };
  let server: ServerHandle | undefined;
  const entry = createEntryApp({ config, registry, log, state, listenPort: () => server?.port ?? config.port });
  try {
    server = await runtime.serve({
      port: config.port,
      hostname: config.hostname,
      fetch: entry.fetch,
      idleTimeoutS: config.idleTimeoutS,
      log,
    });
  } catch (err) {
    log.error("cannot listen", { address: `${config.hostname}:${config.port}`, error: (err as Error).message });
    process.exit(1);
  }
  log.info("entry listening", {
    runtime: runtime.name,
    address: `http://${config.hostname}:${server.port}`,
    sessions: `http://<session>.${config.domain}:${server.port}`,
  });
  if (config.secret) {
    log.info("token auth on: clients need HMAC-SHA256(TUNNEL_SECRET, session) as their token");
  } else {
    log.warn("OPEN DEVELOPMENT MODE: TUNNEL_SECRET is not set, so any client may claim any session with any token");
  }
  if (!config.dashboardToken) {
    log.warn(
      "PUBLIC DASHBOARD: DASHBOARD_TOKEN is not set, so the dashboard (/), /metrics and /api/* are open to anyone who can reach this entry (session names, traffic, memory)",
    );
  }
  const running = server;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("entry stopping", { signal, drainTimeoutMs: config.drainTimeoutMs });
    await drainEntry({ registry, state, log, timeoutMs: config.drainTimeoutMs });
    entry.close();
    // Let responses already handed to the server finish writing, within bounds.
    await Promise.race([running.stop(), new Promise((r) => setTimeout(r, 2000))]);
    log.info("entry stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
