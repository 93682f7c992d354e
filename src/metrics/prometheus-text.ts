import type { Histogram } from "./histogram.ts";
import { type EntryMetrics, UNKNOWN_SESSION } from "./entry-metrics.ts";

/** Live per-session figures read at scrape time from the uplinks. */
export interface LiveSession {
  name: string;
  uplinks: number;
  activeStreams: number;
  /** Visitors' WebSockets open. */
  webSockets: number;
  /** TCP connections open (TCP and TLS tunnels), and opened since the session came. */
  tcpConnections: number;
  tcpConnectionsTotal: number;
  queuedBytes: number;
  bytesToVisitor: number;
  bytesToTarget: number;
  stalls: number;
}

/** Escapes a label value for the text format. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function histogramLines(name: string, labels: string, h: Histogram, lines: string[]): void {
  let cumulative = 0;
  h.bounds.forEach((bound, i) => {
    cumulative += h.counts[i];
    lines.push(`${name}_bucket{${labels},le="${bound / 1000}"} ${cumulative}`);
  });
  lines.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`);
  lines.push(`${name}_sum{${labels}} ${h.sum / 1000}`);
  lines.push(`${name}_count{${labels}} ${h.count}`);
}

/**
 * Renders the metrics in the Prometheus text exposition format (0.0.4).
 * Labels are session names and a few fixed reasons: never paths or tokens.
 * Sessions are those live or recently gone (see `MemoryMetrics`); requests
 * for any other name count under `session="_unknown"`, in the request
 * families only.
 */
export function prometheusText(metrics: EntryMetrics, live: LiveSession[], rssBytes: number): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const liveByName = new Map(live.map((l) => [l.name, l]));
  const counted = [...metrics.sessions()];
  /** Sessions proper: everything but the unknown, which has no uplinks, bytes or writer. */
  const sessions = counted.filter(([n]) => n !== UNKNOWN_SESSION);
  const names = new Set([...liveByName.keys(), ...sessions.map(([n]) => n)]);

  family(
    "tunnel2_requests_total",
    "counter",
    `Visitor requests answered, by session and status class; session="${UNKNOWN_SESSION}" counts Hosts naming no live or recently gone session.`,
  );
  for (const [name, c] of counted) {
    for (const [cls, n] of c.requests) lines.push(`tunnel2_requests_total{session="${label(name)}",class="${cls}"} ${n}`);
  }
  family("tunnel2_request_duration_seconds", "histogram", "Time from a visitor's request to its response head.");
  for (const [name, c] of counted) histogramLines("tunnel2_request_duration_seconds", `session="${label(name)}"`, c.duration, lines);
  family("tunnel2_rate_limited_total", "counter", "Requests answered 429, by session.");
  for (const [name, c] of sessions) lines.push(`tunnel2_rate_limited_total{session="${label(name)}"} ${c.rateLimited}`);
  family("tunnel2_access_refused_total", "counter", "Visitors kept out by a session's access rules, by session and reason (basic_auth, ip_allow, ip_deny, webhook, sign_on).");
  for (const [name, c] of sessions) {
    for (const [reason, n] of c.refused) lines.push(`tunnel2_access_refused_total{session="${label(name)}",reason="${reason}"} ${n}`);
  }

  family("tunnel2_body_bytes_total", "counter", "Body bytes carried, by session and direction.");
  family("tunnel2_flow_control_stalls_total", "counter", "Times a sender waited for window credit, by session.");
  const bytes: string[] = [];
  const stalls: string[] = [];
  for (const name of names) {
    const c = metrics.session(name);
    const l = liveByName.get(name);
    const s = `session="${label(name)}"`;
    bytes.push(`tunnel2_body_bytes_total{${s},direction="to_visitor"} ${(c?.closedBytesToVisitor ?? 0) + (l?.bytesToVisitor ?? 0)}`);
    bytes.push(`tunnel2_body_bytes_total{${s},direction="to_target"} ${(c?.closedBytesToTarget ?? 0) + (l?.bytesToTarget ?? 0)}`);
    stalls.push(`tunnel2_flow_control_stalls_total{${s}} ${(c?.closedStalls ?? 0) + (l?.stalls ?? 0)}`);
  }
  lines.splice(lines.indexOf("# TYPE tunnel2_body_bytes_total counter") + 1, 0, ...bytes);
  lines.push(...stalls);

  family("tunnel2_active_streams", "gauge", "Streams in flight, by session.");
  for (const l of live) lines.push(`tunnel2_active_streams{session="${label(l.name)}"} ${l.activeStreams}`);
  family("tunnel2_websockets", "gauge", "Visitors' WebSockets open, by session.");
  for (const l of live) lines.push(`tunnel2_websockets{session="${label(l.name)}"} ${l.webSockets}`);
  family("tunnel2_tcp_connections", "gauge", "TCP connections open (TCP and TLS tunnels), by session.");
  for (const l of live) if (l.tcpConnectionsTotal > 0) lines.push(`tunnel2_tcp_connections{session="${label(l.name)}"} ${l.tcpConnections}`);
  family("tunnel2_tcp_connections_total", "counter", "TCP connections carried (TCP and TLS tunnels), by session; their bytes are in tunnel2_body_bytes_total.");
  for (const l of live) if (l.tcpConnectionsTotal > 0) lines.push(`tunnel2_tcp_connections_total{session="${label(l.name)}"} ${l.tcpConnectionsTotal}`);
  family("tunnel2_uplinks", "gauge", "Connected uplinks, by session.");
  for (const l of live) lines.push(`tunnel2_uplinks{session="${label(l.name)}"} ${l.uplinks}`);
  family("tunnel2_writer_queue_bytes", "gauge", "Bytes waiting in the uplink writers' queues, by session.");
  for (const l of live) lines.push(`tunnel2_writer_queue_bytes{session="${label(l.name)}"} ${l.queuedBytes}`);
  family("tunnel2_writer_wait_seconds", "histogram", "Time frames wait in the uplink writer queue before they are written to the uplink.");
  for (const [name, c] of sessions) histogramLines("tunnel2_writer_wait_seconds", `session="${label(name)}"`, c.writerWait, lines);

  family("tunnel2_uplinks_rejected_total", "counter", "Uplinks refused, by reason.");
  for (const [reason, n] of metrics.rejected()) lines.push(`tunnel2_uplinks_rejected_total{reason="${reason}"} ${n}`);
  family("process_resident_memory_bytes", "gauge", "Resident memory of the entry process.");
  lines.push(`process_resident_memory_bytes ${rssBytes}`);
  family("tunnel2_event_loop_lag_seconds", "gauge", "How late the last 500 ms timer fired.");
  lines.push(`tunnel2_event_loop_lag_seconds ${metrics.eventLoopLagMs() / 1000}`);
  return lines.join("\n") + "\n";
}
