/**
 * The tunnel2 client agent:
 * `bun run src/client.ts --server URL --session NAME --token TOKEN --to URL`
 * (or `deno task client …`). Settings come from flags and environment.
 */
import process from "node:process";
import { startAgent } from "./client/agent.ts";
import type { ClientRuntime } from "./client/client-runtime.ts";
import { clientConfig, readConfigOrExit } from "./config.ts";
import { createLogger } from "./log.ts";
import { runtimeName } from "./adapter/runtime-name.ts";

async function loadRuntime(): Promise<ClientRuntime> {
  return runtimeName() === "bun"
    ? (await import("./adapter/bun/target-fetch.ts")).bunClientRuntime
    : (await import("./adapter/deno/target-fetch.ts")).denoClientRuntime;
}

async function main(): Promise<void> {
  const config = readConfigOrExit(() => clientConfig(process.argv.slice(2), process.env));
  const log = createLogger();
  const runtime = await loadRuntime();
  const agent = startAgent(config, runtime, log, {
    onReady(url) {
      console.log(`Forwarding ${url} -> ${config.target.origin}${config.target.pathname.replace(/\/$/, "")}`);
    },
    onRefused(reason) {
      console.error(`Refused by the entry: ${reason}`);
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
