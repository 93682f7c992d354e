import { describe, expect, test } from "bun:test";
import { DashboardFeed, HISTORY_SECONDS } from "./dashboard-feed.ts";
import { MemoryMetrics, UNKNOWN_SESSION } from "./entry-metrics.ts";
import type { LiveSession } from "./prometheus-text.ts";

function liveSession(name: string, bytesToVisitor: number): LiveSession {
  return { name, uplinks: 2, activeStreams: 3, webSockets: 1, tcpConnections: 0, tcpConnectionsTotal: 0, queuedBytes: 100, bytesToVisitor, bytesToTarget: 0, stalls: 0 };
}

describe("DashboardFeed", () => {
  test("each tick reports the rates and quantiles of the time since the last one", () => {
    const metrics = new MemoryMetrics();
    let bytes = 0;
    const feed = new DashboardFeed(metrics, () => [liveSession("a", bytes)], () => 42);
    try {
      metrics.request("a", 200, 3);
      feed.tick(1_000); // first sight of the session: no rates yet
      for (let i = 0; i < 10; i++) metrics.request("a", 200, 4);
      metrics.request("a", 502, 4);
      metrics.writerWait("a", 0.5);
      metrics.refused("a", "basic_auth");
      metrics.refused("a", "ip_deny");
      metrics.refused("a", "basic_auth");
      metrics.refused("a", "webhook");
      bytes = 2048;
      const second = feed.tick(3_000); // two seconds later
      const a = second.sessions[0];
      expect(a.rps).toBe(5.5);
      expect(a.errors).toBe(0.5);
      expect(a.refused).toBe(2);
      expect(a.p50).toBeGreaterThan(2.5);
      expect(a.p50).toBeLessThanOrEqual(5);
      expect(a.waitP99).toBeLessThanOrEqual(1);
      expect(a.toVisitorBps).toBe(1024);
      expect(a).toMatchObject({ uplinks: 2, streams: 3, webSockets: 1, queueBytes: 100 });
      expect(second.rssBytes).toBe(42);
      const quiet = feed.tick(4_000).sessions[0];
      expect(quiet.rps).toBe(0);
      expect(quiet.refused).toBe(0);
      expect(quiet.p99).toBeNull();
    } finally {
      metrics.close();
    }
  });

  test("requests to unknown sessions are one rate of the point, not a session of the feed", () => {
    const metrics = new MemoryMetrics({ isLive: (s) => s === "a" });
    const feed = new DashboardFeed(metrics, () => [liveSession("a", 0)], () => 0);
    try {
      metrics.request("nobody", 502, 0.1);
      expect(feed.tick(1_000).unknownRps).toBe(0); // first tick: no rate yet
      for (let i = 0; i < 6; i++) metrics.request(`random-${i}`, 502, 0.1);
      const point = feed.tick(3_000);
      expect(point.unknownRps).toBe(3);
      expect(point.sessions.map((s) => s.name)).toEqual(["a"]);
      expect(JSON.stringify(feed.history())).not.toContain(UNKNOWN_SESSION);
    } finally {
      metrics.close();
    }
  });

  test("keeps a bounded history and hands new points to subscribers until they leave", () => {
    const metrics = new MemoryMetrics();
    const feed = new DashboardFeed(metrics, () => [], () => 0);
    try {
      const seen: number[] = [];
      const leave = feed.subscribe((p) => seen.push(p.t));
      feed.tick(1_000);
      leave();
      feed.tick(2_000);
      expect(seen).toEqual([1_000]);
      for (let i = 0; i < HISTORY_SECONDS + 5; i++) feed.tick(3_000 + i * 1000);
      expect(feed.history().length).toBe(HISTORY_SECONDS);
      expect(feed.history().at(-1)!.sessions).toEqual([]);
    } finally {
      metrics.close();
    }
  });
});
