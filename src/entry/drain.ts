import { GoAwayCode } from "../protocol/constants.ts";
import type { Logger } from "../log.ts";
import type { EntryState } from "./proxy.ts";
import type { SessionRegistry } from "./session-registry.ts";

/**
 * Graceful shutdown: stop taking requests and uplinks (the state flag), tell
 * every client to go away, then wait until no stream is in flight or the
 * timeout passes. Resolves with the number of streams still open.
 */
export async function drainEntry(deps: {
  registry: SessionRegistry;
  state: EntryState;
  log: Logger;
  timeoutMs: number;
}): Promise<number> {
  const { registry, state, log } = deps;
  state.draining = true;
  // WebSockets never finish by themselves: tell their visitors to reconnect elsewhere (1001).
  for (const socket of [...(state.webSockets ?? [])]) socket.goAway();
  const uplinks = registry.all().flatMap((s) => [...s.uplinks]);
  for (const uplink of uplinks) uplink.mux?.goAway(GoAwayCode.Draining, "Entry is shutting down");
  const inFlight = () => uplinks.reduce((n, u) => n + u.activeStreams, 0);
  log.info("draining", { uplinks: uplinks.length, inFlight: inFlight(), timeoutMs: deps.timeoutMs });
  const deadline = Date.now() + deps.timeoutMs;
  while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = inFlight();
  for (const uplink of uplinks) uplink.close(1001, "Entry shut down");
  log.info(left === 0 ? "drained" : "drain timed out", { abandoned: left });
  return left;
}
