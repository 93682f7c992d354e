import { type EntryMetrics, UNKNOWN_SESSION } from "./entry-metrics.ts";
import { Histogram, WAIT_BUCKETS_MS } from "./histogram.ts";
import type { LiveSession } from "./prometheus-text.ts";

/** One session's figures over one second. Latencies in ms (null when nothing was observed). */
export interface SessionPoint {
  name: string;
  uplinks: number;
  streams: number;
  webSockets: number;
  tcpConnections: number;
  queueBytes: number;
  rps: number;
  errors: number;
  /** Visitors per second kept out by the session's access rules. */
  refused: number;
  p50: number | null;
  p99: number | null;
  waitP99: number | null;
  toVisitorBps: number;
  toTargetBps: number;
}

/** What the dashboard receives every second. */
export interface FeedPoint {
  /** Milliseconds since the epoch at the end of the second. */
  t: number;
  rssBytes: number;
  lagMs: number;
  /** Connected sessions. */
  sessions: SessionPoint[];
  /** Requests per second to Hosts naming no known session (answered 502 by the entry; not a session of its own). */
  unknownRps: number;
}

/** Cumulative figures of a session at the previous tick. */
interface Previous {
  duration: Histogram;
  writerWait: Histogram;
  errors: number;
  refused: number;
  toVisitor: number;
  toTarget: number;
}

/** Seconds of history a newly opened dashboard starts with. */
export const HISTORY_SECONDS = 180;

function finite(n: number): number | null {
  return Number.isFinite(n) ? Math.round(n * 1000) / 1000 : null;
}

/**
 * Turns the entry's cumulative metrics into one point per second (rates and
 * quantiles of that second), keeps the last few minutes, and hands each new
 * point to subscribers — the dashboard's live feed.
 */
export class DashboardFeed {
  readonly #metrics: EntryMetrics;
  readonly #live: () => LiveSession[];
  readonly #rss: () => number;
  readonly #previous = new Map<string, Previous>();
  readonly #history: FeedPoint[] = [];
  readonly #subscribers = new Set<(point: FeedPoint) => void>();
  #lastTick = 0;
  /** Requests counted under the unknown label at the previous tick (undefined before the first). */
  #unknownBefore: number | undefined;

  constructor(metrics: EntryMetrics, live: () => LiveSession[], rss: () => number) {
    this.#metrics = metrics;
    this.#live = live;
    this.#rss = rss;
  }

  /** The points kept, oldest first. */
  history(): readonly FeedPoint[] {
    return this.#history;
  }

  /** Calls `onPoint` with each new point until the returned function is called. */
  subscribe(onPoint: (point: FeedPoint) => void): () => void {
    this.#subscribers.add(onPoint);
    return () => this.#subscribers.delete(onPoint);
  }

  /** Takes the point of the time since the last tick; called once a second. */
  tick(now = Date.now()): FeedPoint {
    const seconds = this.#lastTick === 0 ? 1 : Math.max(0.001, (now - this.#lastTick) / 1000);
    this.#lastTick = now;
    const sessions: SessionPoint[] = [];
    const seen = new Set<string>();
    for (const live of this.#live()) {
      seen.add(live.name);
      const counters = this.#metrics.session(live.name);
      const duration = counters?.duration ?? new Histogram();
      const writerWait = counters?.writerWait ?? new Histogram(WAIT_BUCKETS_MS);
      const errors = counters?.requests.get("5xx") ?? 0;
      let refused = 0;
      for (const n of counters?.refused.values() ?? []) refused += n;
      const toVisitor = (counters?.closedBytesToVisitor ?? 0) + live.bytesToVisitor;
      const toTarget = (counters?.closedBytesToTarget ?? 0) + live.bytesToTarget;
      const before = this.#previous.get(live.name);
      const requests = before ? duration.since(before.duration) : new Histogram();
      const waits = before ? writerWait.since(before.writerWait) : new Histogram(WAIT_BUCKETS_MS);
      sessions.push({
        name: live.name,
        uplinks: live.uplinks,
        streams: live.activeStreams,
        webSockets: live.webSockets,
        tcpConnections: live.tcpConnections,
        queueBytes: live.queuedBytes,
        rps: finite(requests.count / seconds) ?? 0,
        errors: before ? finite((errors - before.errors) / seconds) ?? 0 : 0,
        refused: before ? finite((refused - before.refused) / seconds) ?? 0 : 0,
        p50: finite(requests.quantile(0.5)),
        p99: finite(requests.quantile(0.99)),
        waitP99: finite(waits.quantile(0.99)),
        toVisitorBps: before ? Math.max(0, Math.round((toVisitor - before.toVisitor) / seconds)) : 0,
        toTargetBps: before ? Math.max(0, Math.round((toTarget - before.toTarget) / seconds)) : 0,
      });
      this.#previous.set(live.name, { duration: duration.copy(), writerWait: writerWait.copy(), errors, refused, toVisitor, toTarget });
    }
    for (const name of this.#previous.keys()) if (!seen.has(name)) this.#previous.delete(name);
    const unknown = this.#metrics.session(UNKNOWN_SESSION)?.duration.count ?? 0;
    const unknownRps = this.#unknownBefore === undefined ? 0 : finite((unknown - this.#unknownBefore) / seconds) ?? 0;
    this.#unknownBefore = unknown;
    const point: FeedPoint = { t: now, rssBytes: this.#rss(), lagMs: finite(this.#metrics.eventLoopLagMs()) ?? 0, sessions, unknownRps };
    this.#history.push(point);
    if (this.#history.length > HISTORY_SECONDS) this.#history.shift();
    for (const onPoint of this.#subscribers) onPoint(point);
    return point;
  }
}
