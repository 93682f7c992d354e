import { SESSION_NAME_PATTERN, UPLINK_SESSION_HEADER } from "../protocol/constants.ts";
import type { EntryConfig } from "../config/config.ts";
import { errorResponse } from "./error-response.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { SessionTokenVerifier } from "./session-token.ts";

/**
 * Checks an uplink's upgrade request before any WebSocket exists: with a
 * secret, the session it names (`X-Tunnel2-Session`) and its token
 * (`Authorization: Bearer`) must agree, so a stranger is answered 401 and
 * never gets a socket whose messages the runtime would assemble (64 MiB
 * each) before the entry could look at them. A session already at its
 * uplink limit gets 429. Resolves with the session the uplink may claim
 * (undefined in open mode, where the hello names it), or the refusal.
 */
export async function checkUplinkClaim(
  request: Request,
  deps: { config: EntryConfig; registry: SessionRegistry; verifier: SessionTokenVerifier | undefined },
): Promise<string | undefined | Response> {
  const session = request.headers.get(UPLINK_SESSION_HEADER) ?? undefined;
  if (session !== undefined) {
    if (!SESSION_NAME_PATTERN.test(session)) {
      return errorResponse(400, "Bad request: invalid session name: use 1-63 of a-z, 0-9 and -");
    }
    if ((deps.registry.get(session)?.uplinks.size ?? 0) >= deps.config.maxUplinksPerSession) {
      return errorResponse(429, tooManyUplinks(session, deps.config.maxUplinksPerSession));
    }
  }
  if (!deps.verifier) return undefined;
  const auth = request.headers.get("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
  if (session === undefined || token === undefined) {
    return errorResponse(
      401,
      `Unauthorized: this entry needs the session's token on the uplink's upgrade (${UPLINK_SESSION_HEADER} and Authorization: Bearer); use a tunnel2 client of this version or later`,
    );
  }
  if (!(await deps.verifier.verify(session, token))) return errorResponse(401, `Unauthorized: invalid token for session "${session}"`);
  return session;
}

/** Why an uplink beyond the session's limit is refused. */
export function tooManyUplinks(session: string, limit: number): string {
  return `Too many uplinks: session "${session}" already has ${limit} on this entry (MAX_UPLINKS_PER_SESSION)`;
}
