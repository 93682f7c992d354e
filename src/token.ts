/**
 * Prints a session's token: `TUNNEL_SECRET=… bun run src/token.ts NAME`
 * (or `deno task token NAME`). The secret is read from the environment only,
 * so it never lands in shell history as an argument.
 */
import process from "node:process";
import { SESSION_NAME_PATTERN } from "./protocol/constants.ts";
import { sessionToken } from "./entry/session-token.ts";

const [name, ...rest] = process.argv.slice(2);
const secret = process.env.TUNNEL_SECRET;
if (!name || rest.length > 0 || name === "--help") {
  console.error("Usage: TUNNEL_SECRET=… tunnel2 token SESSION_NAME");
  process.exit(name === "--help" ? 0 : 2);
}
if (!SESSION_NAME_PATTERN.test(name)) {
  console.error(`Invalid session name: ${JSON.stringify(name)} (use 1-63 of a-z, 0-9 and -)`);
  process.exit(2);
}
if (!secret) {
  console.error("TUNNEL_SECRET is not set: tokens derive from the entry's secret");
  process.exit(2);
}
console.log(await sessionToken(secret, name));
