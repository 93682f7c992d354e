import { Histogram, WAIT_BUCKETS_MS } from "./histogram.ts";
import type { RefusalReason } from "../access/access-policy.ts";

/** Why an uplink was refused: a small fixed set, so labels stay bounded. */
export type RejectReason = "bad_token" | "bad_session_name" | "protocol_error" | "hello_timeout" | "draining" | "too_many_uplinks" | "access_rules" | "session_taken" | "tunnel_refused";

/**
 * The label of requests whose Host names a session that has no uplink and no
 * counters: one series for all of them, so random hosts cannot grow /metrics.
 * Session names are `[a-z0-9-]{1,63}`, so no session can take it.
 */
export const UNKNOWN_SESSION = "_unknown";

/** How long a session's counters are kept after its last uplink left. */
export const GONE_RETENTION_MS = 10 * 60_000;

/** At most this many gone sessions keep counters; past it the one gone longest is forgotten first. */
export const MAX_GONE_SESSIONS = 1000;

/** Counters of one session that outlive its uplinks (for a bounded time: see {@linkcode MemoryMetrics}). */
export interface SessionCounters {
  requests: Map<string, number>;
  duration: Histogram;
  rateLimited: number;
  /** Visitors refused by the session's access rules, by reason. */
  refused: Map<RefusalReason, number>;
  /** Body bytes carried by uplinks already closed (live ones are read at scrape time). */
  closedBytesToVisitor: number;
  closedBytesToTarget: number;
  closedStalls: number;
  writerWait: Histogram;
  /** Per-second slots over the last minute: requests and their durations (kept while the session is live). */
  recent: { second: number; hist: Histogram }[];
}

/** What the entry counts. Views (Prometheus text, /api/sessions) read it. */
export interface EntryMetrics {
  /** Counts a visitor request: under its session if that is live or has counters, else under {@linkcode UNKNOWN_SESSION}. */
  request(session: string, status: number, ms: number): void;
  writerWait(session: string, ms: number): void;
  /** Counts a visitor kept out by the session's access rules (its request is counted by `request` too). */
  refused(session: string, reason: RefusalReason): void;
  /** Adds a closed uplink's totals; when it was its session's last, the session's counters start to age. */
  uplinkClosed(session: string, totals: { bytesToVisitor: number; bytesToTarget: number; stalls: number }): void;
  uplinkRejected(reason: RejectReason): void;
  session(name: string): SessionCounters | undefined;
  sessions(): Iterable<[string, SessionCounters]>;
  rejected(): Iterable<[RejectReason, number]>;
  /** RPS and latency quantiles over the last 60 s. */
  recent(session: string, now?: number): { rps: number; p50: number; p99: number };
  eventLoopLagMs(): number;
}

const RECENT_SECONDS = 60;

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

/** How {@linkcode MemoryMetrics} tells live sessions from gone ones, and how long it keeps the gone. */
export interface MetricsOptions {
  /** Whether a session has an uplink now (the registry's answer). */
  isLive: (session: string) => boolean;
  /** Default {@linkcode GONE_RETENTION_MS}. */
  goneRetentionMs?: number;
  /** Default {@linkcode MAX_GONE_SESSIONS}. */
  maxGoneSessions?: number;
}

/**
 * The in-memory implementation. Memory and /metrics stay bounded whatever
 * Hosts visitors send and whatever names clients claim: counters exist only
 * for live sessions (kept as long as they are live), for at most
 * `maxGoneSessions` sessions whose last uplink left less than
 * `goneRetentionMs` ago, and for {@linkcode UNKNOWN_SESSION}.
 */
export class MemoryMetrics implements EntryMetrics {
  #sessions = new Map<string, SessionCounters>();
  /** Sessions whose last uplink left, and when; oldest first. */
  #gone = new Map<string, number>();
  #rejected = new Map<RejectReason, number>();
  #isLive: (session: string) => boolean;
  #goneRetentionMs: number;
  #maxGone: number;
  #lag = 0;
  #lagTimer: ReturnType<typeof setInterval>;

  /**
   * Without options every name counts as live: only for callers whose names
   * are a fixed few (the client's stats, benchmarks), never for names from
   * the network.
   */
  constructor(options: MetricsOptions = { isLive: () => true }) {
    this.#isLive = options.isLive;
    this.#goneRetentionMs = options.goneRetentionMs ?? GONE_RETENTION_MS;
    this.#maxGone = options.maxGoneSessions ?? MAX_GONE_SESSIONS;
    let expected = performance.now() + 500;
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.#lag = Math.max(0, now - expected);
      expected = now + 500;
      this.prune();
    }, 500);
    (this.#lagTimer as { unref?: () => void }).unref?.();
  }

  close(): void {
    clearInterval(this.#lagTimer);
  }

  #counters(session: string): SessionCounters {
    let c = this.#sessions.get(session);
    if (!c) {
      c = {
        requests: new Map(),
        duration: new Histogram(),
        rateLimited: 0,
        refused: new Map(),
        closedBytesToVisitor: 0,
        closedBytesToTarget: 0,
        closedStalls: 0,
        writerWait: new Histogram(WAIT_BUCKETS_MS),
        recent: [],
      };
      this.#sessions.set(session, c);
    }
    return c;
  }

  /** Whether `session` gets (or has) its own counters. */
  #known(session: string): boolean {
    return this.#sessions.has(session) || this.#isLive(session);
  }

  request(session: string, status: number, ms: number): void {
    const name = this.#known(session) ? session : UNKNOWN_SESSION;
    const c = this.#counters(name);
    const cls = statusClass(status);
    c.requests.set(cls, (c.requests.get(cls) ?? 0) + 1);
    if (status === 429) c.rateLimited++;
    c.duration.observe(ms);
    // The last minute is read for live sessions and the unknown only; a gone session's would be dead weight.
    if (name !== UNKNOWN_SESSION && this.#gone.has(name) && !this.#isLive(name)) return;
    const second = Math.floor(Date.now() / 1000);
    let slot = c.recent[c.recent.length - 1];
    if (!slot || slot.second !== second) {
      slot = { second, hist: new Histogram() };
      c.recent.push(slot);
      while (c.recent.length > 0 && c.recent[0].second <= second - RECENT_SECONDS) c.recent.shift();
    }
    slot.hist.observe(ms);
  }

  writerWait(session: string, ms: number): void {
    if (this.#known(session)) this.#counters(session).writerWait.observe(ms);
  }

  refused(session: string, reason: RefusalReason): void {
    if (!this.#known(session)) return;
    const c = this.#counters(session);
    c.refused.set(reason, (c.refused.get(reason) ?? 0) + 1);
  }

  uplinkClosed(session: string, totals: { bytesToVisitor: number; bytesToTarget: number; stalls: number }, now = Date.now()): void {
    const c = this.#counters(session);
    c.closedBytesToVisitor += totals.bytesToVisitor;
    c.closedBytesToTarget += totals.bytesToTarget;
    c.closedStalls += totals.stalls;
    if (this.#isLive(session)) return; // other uplinks still serve it
    c.recent = [];
    this.#gone.delete(session); // re-inserted last: the map stays ordered by when sessions left
    this.#gone.set(session, now);
    while (this.#gone.size > this.#maxGone) this.#forget(this.#gone.keys().next().value!);
  }

  /** Forgets the counters of sessions gone longer than the retention (called every 500 ms). */
  prune(now = Date.now()): void {
    for (const [session, leftAt] of this.#gone) {
      if (leftAt > now - this.#goneRetentionMs) break;
      this.#forget(session);
    }
  }

  /** Ends a gone session's retention: its counters go unless it came back. */
  #forget(session: string): void {
    this.#gone.delete(session);
    if (!this.#isLive(session)) this.#sessions.delete(session);
  }

  /** Sessions whose last uplink left and whose counters are still kept. */
  goneSessions(): number {
    return this.#gone.size;
  }

  uplinkRejected(reason: RejectReason): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
  }

  session(name: string): SessionCounters | undefined {
    return this.#sessions.get(name);
  }

  sessions(): Iterable<[string, SessionCounters]> {
    return this.#sessions;
  }

  rejected(): Iterable<[RejectReason, number]> {
    return this.#rejected;
  }

  recent(session: string, now = Date.now()): { rps: number; p50: number; p99: number } {
    const c = this.#sessions.get(session);
    const merged = new Histogram();
    const current = Math.floor(now / 1000);
    for (const slot of c?.recent ?? []) {
      if (slot.second > current - RECENT_SECONDS) merged.add(slot.hist);
    }
    return { rps: merged.count / RECENT_SECONDS, p50: merged.quantile(0.5), p99: merged.quantile(0.99) };
  }

  eventLoopLagMs(): number {
    return this.#lag;
  }
}
