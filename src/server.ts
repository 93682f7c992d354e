/**
 * The tunnel2 entry: `bun run src/server.ts` or `deno task serve`.
 * Settings come from flags and environment (see `config.ts`).
 */
import process from "node:process";
import { entryConfig, readConfigOrExit } from "./config.ts";
import { createEntryApp } from "./entry/entry-app.ts";
import type { EntryRuntime, ServerHandle } from "./entry/entry-runtime.ts";
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
  const log = createLogger();
  const runtime = await loadRuntime();
  const registry = new SessionRegistry();
  let server: ServerHandle | undefined;
  const entry = createEntryApp({ config, registry, log, listenPort: () => server?.port ?? config.port });
  try {
    server = await runtime.serve({ port: config.port, hostname: config.hostname, fetch: entry.fetch });
  } catch (err) {
    log.error("cannot listen", { address: `${config.hostname}:${config.port}`, error: (err as Error).message });
    process.exit(1);
  }
  log.info("entry listening", {
    runtime: runtime.name,
    address: `http://${config.hostname}:${server.port}`,
    sessions: `http://<session>.${config.domain}:${server.port}`,
  });
  log.warn("open development mode: any client may claim any session (token auth is not enabled)");
  const stop = (signal: string) => {
    log.info("entry stopping", { signal });
    server.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref?.();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

await main();
