import process from "node:process";
import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { sessionToken } from "../entry/session-token.ts";

export const TOKEN_USAGE = `Usage: TUNNEL_SECRET=… tunnel2 token SESSION
  Prints the session's token: HMAC-SHA256(TUNNEL_SECRET, SESSION) in hex. The secret is
  read from the environment only, so it never lands in shell history.`;

/** `tunnel2 token NAME`: prints the token; returns the exit code. */
export async function tokenCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h") {
    console.log(TOKEN_USAGE);
    return 0;
  }
  if (!name || rest.length > 0) {
    console.error(TOKEN_USAGE);
    return 2;
  }
  if (!SESSION_NAME_PATTERN.test(name)) {
    console.error(`Invalid session name: ${JSON.stringify(name)} (use 1-63 of a-z, 0-9 and -)`);
    return 2;
  }
  const secret = process.env.TUNNEL_SECRET;
  if (!secret) {
    console.error("TUNNEL_SECRET is not set: tokens derive from the entry's secret (TUNNEL_SECRET=… tunnel2 token NAME)");
    return 2;
  }
  console.log(await sessionToken(secret, name));
  return 0;
}
