import { describe, expect, test } from "bun:test";
import { MemoryMetrics } from "./entry-metrics.ts";
import { prometheusText } from "./prometheus-text.ts";

describe("prometheusText()", () => {
  test("renders counters, gauges and cumulative histograms in the text format", () => {
    const m = new MemoryMetrics();
    m.request("demo", 200, 3);
    m.request("demo", 200, 40);
    m.request("demo", 429, 0.5);
    m.writerWait("demo", 0.2);
    m.uplinkRejected("bad_token");
    m.refused("demo", "ip_allow");
    m.refused("demo", "ip_allow");
    m.uplinkClosed("demo", { bytesToVisitor: 10, bytesToTarget: 5, stalls: 1 });
    const text = prometheusText(m, [{ name: "demo", uplinks: 2, activeStreams: 1, webSockets: 1, tcpConnections: 1, tcpConnectionsTotal: 3, queuedBytes: 0, bytesToVisitor: 90, bytesToTarget: 0, stalls: 2 }], 1234);
    m.close();
    expect(text).toContain('tunnel2_requests_total{session="demo",class="2xx"} 2');
    expect(text).toContain('tunnel2_requests_total{session="demo",class="4xx"} 1');
    expect(text).toContain('tunnel2_rate_limited_total{session="demo"} 1');
    expect(text).toContain('tunnel2_access_refused_total{session="demo",reason="ip_allow"} 2');
    expect(text).not.toContain('reason="basic_auth"');
    expect(text).toContain('tunnel2_request_duration_seconds_bucket{session="demo",le="0.001"} 1');
    expect(text).toContain('tunnel2_request_duration_seconds_bucket{session="demo",le="0.005"} 2');
    expect(text).toContain('tunnel2_request_duration_seconds_bucket{session="demo",le="+Inf"} 3');
    expect(text).toContain('tunnel2_request_duration_seconds_count{session="demo"} 3');
    expect(text).toContain('tunnel2_body_bytes_total{session="demo",direction="to_visitor"} 100');
    expect(text).toContain('tunnel2_flow_control_stalls_total{session="demo"} 3');
    expect(text).toContain('tunnel2_uplinks{session="demo"} 2');
    expect(text).toContain('tunnel2_websockets{session="demo"} 1');
    expect(text).toContain('tunnel2_tcp_connections{session="demo"} 1');
    expect(text).toContain('tunnel2_tcp_connections_total{session="demo"} 3');
    expect(text).toContain('tunnel2_uplinks_rejected_total{reason="bad_token"} 1');
    expect(text).toContain("process_resident_memory_bytes 1234");
    // Every sample line belongs to a family declared before it.
    const declared = new Set<string>();
    for (const line of text.trim().split("\n")) {
      if (line.startsWith("# TYPE ")) declared.add(line.split(" ")[2]);
      else if (!line.startsWith("#")) {
        const name = line.split(/[{ ]/)[0].replace(/_(bucket|sum|count)$/, "");
        expect(declared.has(name)).toBe(true);
        expect(line).toMatch(/^[a-z_][a-z0-9_]*(\{[^}]*\})? [0-9.e+-]+$/);
      }
    }
  });

  test("last-minute RPS and quantiles", () => {
    const m = new MemoryMetrics();
    for (let i = 0; i < 120; i++) m.request("s", 200, 10);
    const recent = m.recent("s");
    m.close();
    expect(recent.rps).toBe(2);
    expect(recent.p50).toBeGreaterThan(5);
    expect(recent.p50).toBeLessThanOrEqual(10);
  });
});
