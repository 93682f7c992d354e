/**
 * The tunnel2 client agent:
 * `bun run src/client.ts --server URL[,URL…] --session NAME --token TOKEN --to URL`
 * (or `deno task client …`; the same as `tunnel2 http`). Settings come from
 * flags and environment.
 */
import process from "node:process";
import { clientConfig, readConfigOrExit } from "./config/config.ts";
import { PASSWORD_ON_COMMAND_LINE } from "./config/client-options.ts";
import { runTunnels } from "./wiring/run-client.ts";

const args = process.argv.slice(2);
if (args.some((a) => a === "--basic-auth" || a.startsWith("--basic-auth="))) {
  console.error(PASSWORD_ON_COMMAND_LINE);
}
await runTunnels([readConfigOrExit(() => clientConfig(args, process.env))]);
