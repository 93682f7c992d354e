/**
 * The tunnel2 client agent:
 * `bun run src/client.ts --server URL[,URL…] --session NAME --token TOKEN --to URL`
 * (or `deno task client …`; the same as `tunnel2 http`). Settings come from
 * flags and environment.
 */
import process from "node:process";
import { clientConfig, readConfigOrExit } from "./config/config.ts";
import { runTunnels } from "./wiring/run-client.ts";

await runTunnels([readConfigOrExit(() => clientConfig(process.argv.slice(2), process.env))]);
