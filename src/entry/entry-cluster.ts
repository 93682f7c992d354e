/**
 * What the entry sees of the cluster: one small interface, so the entry
 * code does not learn whether Redis is there (without REDIS_URL there is no
 * cluster and none of src/cluster is loaded). The cluster implements it.
 */
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import type { RateLimiter } from "./rate-limits.ts";
import type { HoldingEvents } from "./session-registry.ts";

/** Another entry, as the directory knows it. */
export interface Peer {
  /** Instance id (`FLY_MACHINE_ID`, or made up at start). */
  id: string;
  /** Where other entries reach it for forwarded requests (`TUNNEL_PEER_URL`). */
  url: string;
}

/** What the directory holds, read at one moment. */
export interface DirectorySnapshot {
  /** Entries alive (their records not expired). */
  entries: Peer[];
  /** Session name → ids of the entries holding it. */
  sessions: Record<string, string[]>;
  /** More sessions than `limit` exist. */
  truncated: boolean;
}

/** A request another entry forwarded here, checked and rebuilt as the visitor sent it. */
export interface ReceivedRequest {
  /** The visitor's request: its Host and URL again, the forwarding headers gone. */
  request: Request;
  /** Bindings with the visitor's address and X-Forwarded-For as the first entry saw them. */
  env: EntryBindings;
  /** The instance id of the entry that forwarded it. */
  from: string;
}

/** Requests for sessions held elsewhere, by what became of them. */
export interface ClusterCounts {
  /** Answered with fly-replay (Fly's proxy replays them on the holding machine). */
  replayed: number;
  /** Forwarded over HTTP to the holding entry. */
  forwarded: number;
  /** Received from another entry. */
  received: number;
}

/** The cluster as /api/sessions and the dashboard show it. */
export interface ClusterView {
  instance: string;
  peerUrl: string;
  redis: "up" | "down";
  /** The directory as Redis has it now; absent while Redis is down. */
  directory?: DirectorySnapshot;
  counts: ClusterCounts;
}

/** This entry's part in a cluster of entries. */
export interface EntryCluster extends HoldingEvents {
  readonly instanceId: string;
  /** Whether the shared store (Redis) is reachable. */
  readonly storeUp: boolean;
  /** Rate limits shared by all entries; undefined when no limit is configured. */
  readonly rateLimiter: RateLimiter | undefined;
  /**
   * Checks a request carrying the forwarding headers: the visitor's request
   * rebuilt, or the answer that refuses it (403 when not signed by an entry).
   */
  receive(request: Request, env: EntryBindings): ReceivedRequest | Response;
  /**
   * Answers a request for a session this entry holds no uplink for: fly-replay
   * or forwarding to an entry that holds it, or 502. `from` is set for a
   * request that was itself forwarded here (never forwarded again).
   */
  elsewhere(request: Request, host: string, session: string, env: EntryBindings, from: string | undefined): Promise<Response>;
  /** Whether another entry is known to hold `session` (from the local view: no round trip). */
  heldElsewhere(session: string): boolean;
  counts(): ClusterCounts;
  /** The cluster, with the holders of up to `sessions` sessions (0: the entries alone). */
  view(sessions?: number): Promise<ClusterView>;
  /** Leaves the directory (drain and exit) and stops. */
  close(): Promise<void>;
}
