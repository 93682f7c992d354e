import { describe, expect, test } from "bun:test";
import { GONE_RETENTION_MS, MAX_GONE_SESSIONS, MemoryMetrics, UNKNOWN_SESSION } from "./entry-metrics.ts";
import { prometheusText } from "./prometheus-text.ts";
import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";

const NO_BYTES = { bytesToVisitor: 0, bytesToTarget: 0, stalls: 0 };

/** Metrics whose live sessions are a set the test edits (the registry, in the entry). */
function withLive(options: { goneRetentionMs?: number; maxGoneSessions?: number } = {}) {
  const live = new Set<string>();
  const metrics = new MemoryMetrics({ isLive: (s) => live.has(s), ...options });
  return { live, metrics, names: () => [...metrics.sessions()].map(([n]) => n).sort() };
}

describe("MemoryMetrics: which sessions get counters", () => {
  test("the unknown label is no session name", () => {
    expect(SESSION_NAME_PATTERN.test(UNKNOWN_SESSION)).toBe(false);
  });

  test("requests for names with no uplink and no counters all count under one label", () => {
    const { live, metrics, names } = withLive();
    live.add("real");
    try {
      for (let i = 0; i < 2000; i++) metrics.request(`random-${i}`, 502, 0.1);
      metrics.request("real", 200, 3);
      metrics.writerWait("random-7", 0.1); // cannot happen in the entry; must not create counters either
      expect(names()).toEqual([UNKNOWN_SESSION, "real"]);
      expect(metrics.session(UNKNOWN_SESSION)!.requests.get("5xx")).toBe(2000);
      expect(metrics.recent(UNKNOWN_SESSION, Date.now()).rps).toBeCloseTo(2000 / 60);
      const text = prometheusText(metrics, [], 0);
      expect(text).toContain(`tunnel2_requests_total{session="${UNKNOWN_SESSION}",class="5xx"} 2000`);
      expect(text).not.toContain("random-");
      // The unknown is not a session: no bytes, stalls, rate-limit or writer series.
      expect(text.split("\n").filter((l) => l.includes(UNKNOWN_SESSION) && !l.startsWith("#")).every((l) =>
        l.startsWith("tunnel2_requests_total") || l.startsWith("tunnel2_request_duration_seconds")
      )).toBe(true);
      expect(text.split("\n").filter((l) => l && !l.startsWith("#")).length).toBeLessThan(150);
    } finally {
      metrics.close();
    }
  });
});

describe("MemoryMetrics: gone sessions", () => {
  test("keeps a gone session's counters for the retention time, then forgets them", () => {
    const { live, metrics, names } = withLive({ goneRetentionMs: 10_000 });
    try {
      live.add("app");
      metrics.request("app", 200, 5);
      live.delete("app");
      metrics.uplinkClosed("app", { bytesToVisitor: 100, bytesToTarget: 7, stalls: 0 }, 1_000);
      metrics.request("app", 502, 0.1); // visitors still come: counted under its own name while kept
      metrics.prune(10_999);
      expect(names()).toEqual(["app"]);
      expect(metrics.session("app")!.requests.get("5xx")).toBe(1);
      expect(metrics.session("app")!.closedBytesToVisitor).toBe(100);
      expect(metrics.goneSessions()).toBe(1);
      metrics.prune(11_000);
      expect(names()).toEqual([]);
      expect(metrics.goneSessions()).toBe(0);
      metrics.request("app", 502, 0.1);
      expect(names()).toEqual([UNKNOWN_SESSION]);
    } finally {
      metrics.close();
    }
  });

  test("defaults: 10 minutes and 1000 sessions", () => {
    expect(GONE_RETENTION_MS).toBe(600_000);
    expect(MAX_GONE_SESSIONS).toBe(1000);
  });

  test("never keeps more than maxGoneSessions gone sessions: the one gone longest goes first", () => {
    const { live, metrics, names } = withLive({ maxGoneSessions: 1000 });
    try {
      // Open development mode: a client can claim name after name.
      for (let i = 0; i < 5000; i++) {
        const name = `churn-${i}`;
        live.add(name);
        metrics.request(name, 200, 1);
        live.delete(name);
        metrics.uplinkClosed(name, NO_BYTES, 1_000 + i);
      }
      expect(metrics.goneSessions()).toBe(1000);
      expect(names().length).toBe(1000);
      expect(metrics.session("churn-3999")).toBeUndefined();
      expect(metrics.session("churn-4000")).toBeDefined();
      expect(metrics.session("churn-4999")).toBeDefined();
    } finally {
      metrics.close();
    }
  });

  test("a session that leaves again moves to the back of the line", () => {
    const { live, metrics, names } = withLive({ maxGoneSessions: 2 });
    try {
      for (const [name, at] of [["a", 1], ["b", 2], ["a", 3], ["c", 4]] as const) {
        live.add(name);
        live.delete(name);
        metrics.uplinkClosed(name, NO_BYTES, at);
      }
      expect(names()).toEqual(["a", "c"]);
    } finally {
      metrics.close();
    }
  });

  test("live sessions keep their counters always, also after having been gone once", () => {
    const { live, metrics, names } = withLive({ goneRetentionMs: 10_000, maxGoneSessions: 1 });
    try {
      live.add("back");
      metrics.request("back", 200, 1);
      live.delete("back");
      metrics.uplinkClosed("back", NO_BYTES, 1_000);
      live.add("back"); // a new uplink for the same name
      metrics.prune(1_000_000); // its gone-time is long past: it stays, it is live
      live.add("other");
      live.delete("other");
      metrics.uplinkClosed("other", NO_BYTES, 1_000_001); // over the cap of gone sessions
      expect(names()).toEqual(["back", "other"]);
      metrics.request("back", 200, 1);
      expect(metrics.session("back")!.requests.get("2xx")).toBe(2);
      expect(metrics.recent("back").rps).toBeGreaterThan(0);
    } finally {
      metrics.close();
    }
  });

  test("closing one of several uplinks is not the session leaving", () => {
    const { live, metrics } = withLive({ goneRetentionMs: 10_000 });
    try {
      live.add("two");
      metrics.uplinkClosed("two", { bytesToVisitor: 5, bytesToTarget: 0, stalls: 0 }, 1_000);
      metrics.prune(1_000_000);
      expect(metrics.goneSessions()).toBe(0);
      expect(metrics.session("two")!.closedBytesToVisitor).toBe(5);
    } finally {
      metrics.close();
    }
  });

  test("a gone session keeps no last-minute slots", () => {
    const { live, metrics } = withLive();
    try {
      live.add("quiet");
      metrics.request("quiet", 200, 1);
      live.delete("quiet");
      metrics.uplinkClosed("quiet", NO_BYTES);
      for (let i = 0; i < 10; i++) metrics.request("quiet", 502, 0.1);
      expect(metrics.session("quiet")!.recent).toEqual([]);
      expect(metrics.session("quiet")!.duration.count).toBe(11);
    } finally {
      metrics.close();
    }
  });
});
