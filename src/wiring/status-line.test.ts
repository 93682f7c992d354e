import { describe, expect, test } from "bun:test";
import type { AgentStatus } from "../client/agent.ts";
import { requestLine, statusLines } from "./status-line.ts";

const NOW = Date.parse("2026-12-04T12:00:00Z");
const status = (over: Partial<AgentStatus> = {}): AgentStatus => ({
  uplinksUp: 2,
  uplinksWanted: 2,
  uplinkServers: ["http://127.0.0.1:8080", "http://127.0.0.1:8080"],
  rps: 2.5,
  p50: 0.74,
  p99: 12.3,
  lastError: undefined,
  ...over,
});

describe("statusLines", () => {
  test("one tunnel: the inspector before the errors, which a narrow terminal cuts first", () => {
    expect(statusLines([{ session: "myapp", status: status() }], "http://127.0.0.1:4040", NOW)).toEqual([
      "uplinks 2/2 · 2.5 req/s · p50 0.7 ms · p99 12.3 ms · inspector 127.0.0.1:4040 · no errors · uplinks on 127.0.0.1:8080",
    ]);
  });

  test("the last error says how long ago it was, so an old one does not read as now", () => {
    const line = (secondsAgo: number) =>
      statusLines([{ session: "s", status: status({ lastError: { text: "cannot connect (1006)", at: NOW - secondsAgo * 1000 } }) }], undefined, NOW)[0];
    expect(line(8)).toEndWith("p99 12.3 ms · last error 8s ago: cannot connect (1006) · uplinks on 127.0.0.1:8080");
    expect(line(200)).toContain("last error 3m ago: cannot connect (1006)");
    expect(line(7300)).toContain("last error 2h ago: cannot connect (1006)");
  });

  test("several tunnels: each line named, the inspector on the first only; no answer yet is a dash", () => {
    const lines = statusLines([
      { session: "api", status: status({ p50: NaN, p99: NaN, rps: 0, uplinkServers: ["https://a.example", "https://b.example"] }) },
      { session: "web", status: status({ uplinksUp: 1 }) },
    ], "http://127.0.0.1:4041", NOW);
    expect(lines[0]).toBe("api: uplinks 2/2 · 0.0 req/s · p50 — · p99 — · inspector 127.0.0.1:4041 · no errors · uplinks on a.example ×1, b.example ×1");
    expect(lines[1]).toBe("web: uplinks 1/2 · 2.5 req/s · p50 0.7 ms · p99 12.3 ms · no errors · uplinks on 127.0.0.1:8080");
  });
});

describe("requestLine", () => {
  test("time, method, path, status and duration; a long path cut, control characters escaped", () => {
    expect(requestLine(undefined, { method: "POST", path: "/hook", status: 201, ms: 3.25 })).toMatch(/^\d\d:\d\d:\d\d POST {3}\/hook 201 3\.3 ms$/);
    expect(requestLine("api", { method: "GET", path: "/x\x1b[2J", status: 200, ms: 140.4 })).toMatch(/^\d\d:\d\d:\d\d api GET {4}\/x\\u001b\[2J 200 140 ms$/);
    expect(requestLine(undefined, { method: "GET", path: `/${"a".repeat(300)}`, status: 404, ms: 1 })).toContain(`/${"a".repeat(198)}… 404`);
  });
});
