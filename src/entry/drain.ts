import { GoAwayCode } from "../protocol/constants.ts";
import type { Logger } from "../log.ts";
import type { ServerHandle } from "../runtime/entry-runtime.ts";
import type { EntryState } from "./proxy.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { Uplink } from "./uplink.ts";

/**
 * Graceful shutdown: stop taking requests and uplinks (the state flag), tell
 * every client to go away, end the dashboard's feeds, wait until no stream is in flight, close the
 * uplinks, then stop the server, which lets answers still being written to
 * visitors (a download's last bytes, answers relayed from other entries,
 * WebSockets closing) finish. All within `timeoutMs`. Resolves with the
 * number of requests abandoned: streams still open at the deadline, or
 * answers the server had to cut, whichever is more.
 */
export async function drainEntry(deps: {
  registry: SessionRegistry;
  state: EntryState;
  server: Pick<ServerHandle, "stop">;
  log: Logger;
  timeoutMs: number;
  /** Ends the dashboard's /api/live streams, which never finish by themselves. */
  endFeeds: () => void;
  /** Streams of an uplink that never finish by themselves (TCP connections): not waited for, cut when the uplinks close. */
  endless?: (uplink: Uplink) => number;
}): Promise<number> {
  const { registry, state, log } = deps;
  const deadline = Date.now() + deps.timeoutMs;
  state.draining = true;
  // WebSockets never finish by themselves: tell their visitors to reconnect elsewhere (1001).
  for (const socket of [...state.webSockets.open]) socket.goAway();
  deps.endFeeds(); // an EventSource reconnects, to another entry if there is one
  const uplinks = registry.all().flatMap((s) => [...s.uplinks]);
  for (const uplink of uplinks) uplink.mux?.goAway(GoAwayCode.Draining, "Entry is shutting down");
  const inFlight = () => uplinks.reduce((n, u) => n + u.activeStreams - (deps.endless?.(u) ?? 0), 0);
  log.info("draining", { uplinks: uplinks.length, inFlight: inFlight(), timeoutMs: deps.timeoutMs });
  while (inFlight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const streamsLeft = inFlight();
  const tcpCut = uplinks.reduce((n, u) => n + (deps.endless?.(u) ?? 0), 0);
  if (tcpCut > 0) log.info("closing tcp connections", { connections: tcpCut });
  for (const uplink of uplinks) uplink.close(1001, "Entry shut down");
  const cut = await deps.server.stop(Math.max(0, deadline - Date.now()));
  const abandoned = Math.max(streamsLeft, cut);
  log.info(abandoned === 0 ? "drained" : "drain timed out", { abandoned });
  return abandoned;
}
