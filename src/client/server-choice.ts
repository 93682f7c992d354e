/**
 * Which entry an uplink dials, and how long it waits first, when the client
 * has several entries (`--server A,B,…`).
 */

/** An uplink's place in the list of entries. */
export interface ServerChoice {
  /** Index of the entry to dial next. */
  index: number;
  /** Uplinks ended in failure in a row (a failed connect, or a lost uplink) since the last one that went well. */
  failures: number;
}

/** How an uplink ended, as far as the choice of the next entry is concerned. */
export interface UplinkOutcome {
  /** The entry is draining and asked it to go away. */
  goAway?: boolean;
  /** It was welcomed and served long enough to count as having gone well. */
  healthy: boolean;
}

/**
 * Where every uplink starts: the first entry. The entries share sessions (over
 * Redis), so any would do; keeping a session's uplinks together on one entry
 * is simplest (nothing forwarded between entries while all is well), and the
 * order of `--server` is the user's order of preference.
 */
export function firstServer(): ServerChoice {
  return { index: 0, failures: 0 };
}

/**
 * The next entry after an uplink ended, and the backoff step for the wait
 * before dialling it ({@linkcode backoffDelay}'s `attempt`).
 *
 * Whatever the ending (failed connect, lost uplink, go-away), the uplink moves
 * on to the next entry in the list, wrapping round: a dead or draining entry
 * is the likeliest reason it ended. The backoff grows once per full round of
 * failures, so a round over entries that all fail waits as long as one failure
 * did with a single entry, and with one entry the waits are what they always
 * were: step 0 after the first failure, 1 after the second, and so on. A
 * go-away is no failure (step 0); a healthy uplink that is lost counts as the
 * first failure of a fresh count, one lost soon after its welcome adds to the
 * count (so an entry that welcomes and drops at once still backs off).
 */
export function nextServer(choice: ServerChoice, count: number, outcome: UplinkOutcome): { choice: ServerChoice; backoffStep: number } {
  const index = (choice.index + 1) % count;
  if (outcome.goAway) return { choice: { index, failures: 0 }, backoffStep: 0 };
  const failures = outcome.healthy ? 1 : choice.failures + 1;
  return { choice: { index, failures }, backoffStep: Math.floor((failures - 1) / count) };
}

/**
 * For the status line, which entries the uplinks are on, from each uplink's
 * entry origin (undefined while down): " on a:443", or " on a:443 ×1, b:443 ×1"
 * when they are split; "" when none is up.
 */
export function uplinksOn(servers: (string | undefined)[]): string {
  const counts = new Map<string, number>();
  for (const s of servers) if (s !== undefined) counts.set(s, (counts.get(s) ?? 0) + 1);
  if (counts.size === 0) return "";
  const hosts = [...counts].map(([origin, n]) => `${new URL(origin).host}${counts.size > 1 ? ` ×${n}` : ""}`);
  return ` on ${hosts.join(", ")}`;
}
