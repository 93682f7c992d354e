/**
 * Where sessions are held when several entries share them: each entry
 * records the sessions it holds uplinks for, under its instance id, and asks
 * which instances hold a session it does not. Without `REDIS_URL` nothing of
 * this is loaded; the entry keeps everything in its own memory as before.
 */

import type { DirectorySnapshot, Peer } from "../entry/entry-cluster.ts";

/** The shared session directory, seen from one entry. */
export interface SessionDirectory {
  /** This entry now holds uplinks for `session`. */
  hold(session: string): void;
  /** This entry's last uplink of `session` is gone. */
  release(session: string): void;
  /**
   * The other entries holding `session`, from the local view; a miss asks
   * the shared store once. Empty when nobody holds it (or the store is down).
   */
  locate(session: string): Promise<Peer[]>;
  /**
   * The whole directory as the shared store has it now (for the dashboard
   * and /api/sessions, not for requests): the entries alive and which of
   * them hold each session, up to `limit` sessions. Undefined while the
   * store is unreachable.
   */
  snapshot(limit: number): Promise<DirectorySnapshot | undefined>;
  /** A request for `session` was forwarded here, where it is not held: take this entry out of its holders. */
  disown(session: string): void;
  /** Entry `id` said it does not hold `session`: leave it out of the local view. */
  forget(session: string, id: string): void;
  /** Whether the local view has other entries holding `session` (no round trip). */
  knows(session: string): boolean;
  /** Whether the shared store is reachable now. */
  readonly connected: boolean;
  /** Releases everything this entry holds and stops. */
  close(): Promise<void>;
}
