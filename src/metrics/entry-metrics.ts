import { Histogram, WAIT_BUCKETS_MS } from "./histogram.ts";

/** Why an uplink was refused: a small fixed set, so labels stay bounded. */
export type RejectReason = "bad_token" | "bad_session_name" | "protocol_error" | "hello_timeout" | "draining";

/** Counters of one session that outlive its uplinks. */
export interface SessionCounters {
  requests: Map<string, number>;
  duration: Histogram;
  rateLimited: number;
  /** Body bytes carried by uplinks already closed (live ones are read at scrape time). */
  closedBytesToVisitor: number;
  closedBytesToTarget: number;
  closedStalls: number;
  writerWait: Histogram;
  /** Per-second slots over the last minute: requests and their durations. */
  recent: { second: number; hist: Histogram }[];
}

/** What the entry counts. Views (Prometheus text, /api/sessions) read it. */
export interface EntryMetrics {
  request(session: string, status: number, ms: number): void;
  writerWait(session: string, ms: number): void;
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

/** The in-memory implementation. */
export class MemoryMetrics implements EntryMetrics {
  #sessions = new Map<string, SessionCounters>();
  #rejected = new Map<RejectReason, number>();
  #lag = 0;
  #lagTimer: ReturnType<typeof setInterval>;

  constructor() {
    let expected = performance.now() + 500;
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.#lag = Math.max(0, now - expected);
      expected = now + 500;
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

  request(session: string, status: number, ms: number): void {
    const c = this.#counters(session);
    const cls = statusClass(status);
    c.requests.set(cls, (c.requests.get(cls) ?? 0) + 1);
    if (status === 429) c.rateLimited++;
    c.duration.observe(ms);
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
    this.#counters(session).writerWait.observe(ms);
  }

  uplinkClosed(session: string, totals: { bytesToVisitor: number; bytesToTarget: number; stalls: number }): void {
    const c = this.#counters(session);
    c.closedBytesToVisitor += totals.bytesToVisitor;
    c.closedBytesToTarget += totals.bytesToTarget;
    c.closedStalls += totals.stalls;
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
