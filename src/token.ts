/**
 * Prints a session's token: `TUNNEL_SECRET=… bun run src/token.ts NAME`
 * (or `deno task token NAME`; the same as `tunnel2 token NAME`).
 */
import process from "node:process";
import { tokenCommand } from "./cli/token-command.ts";

process.exit(await tokenCommand(process.argv.slice(2)));
