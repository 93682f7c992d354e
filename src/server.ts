/**
 * The tunnel2 entry: `bun run src/server.ts` or `deno task serve` (the same
 * as `tunnel2 serve`). Settings come from flags and environment (see `config.ts`).
 */
import process from "node:process";
import { runEntry } from "./wiring/run-entry.ts";

await runEntry(process.argv.slice(2));
