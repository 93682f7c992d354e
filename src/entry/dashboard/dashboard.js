// The entry's live dashboard. Plain browser script (no build step): it reads
// the server-sent events of /api/live and draws each session with uPlot.
"use strict";

/** Points kept per session: the feed's history length. */
const HISTORY = 180;
/** Seconds of RPS averaged to order the sessions, busiest first. */
const BUSY_WINDOW = 10;
const CHART_HEIGHT = 118;

/** Each chart of a session card: its title and its series (key in a point, label, colour, y scale). */
const CHARTS = [
  { title: "requests/s", series: [["rps", "req/s", "#1565c0", "n"], ["errors", "5xx/s", "#c62828", "n"], ["refused", "refused by access rules/s", "#6d4c41", "n"]] },
  { title: "latency to response head (ms)", series: [["p50", "p50", "#2e7d32", "ms"], ["p99", "p99", "#ef6c00", "ms"]] },
  { title: "active streams", series: [["streams", "streams", "#6a1b9a", "n"], ["webSockets", "of them WebSockets", "#00897b", "n"], ["tcpConnections", "of them TCP", "#f9a825", "n"]] },
  {
    title: "uplink writer queue",
    series: [["waitP99", "wait p99 (ms)", "#00838f", "ms"], ["queueBytes", "depth", "#8d6e63", "bytes"]],
  },
  { title: "body bytes/s", series: [["toVisitorBps", "to visitors", "#1565c0", "bytes"], ["toTargetBps", "to target", "#ad1457", "bytes"]] },
];
const SERIES_KEYS = [...new Set(CHARTS.flatMap((c) => c.series.map((s) => s[0])))];

const sessionsEl = document.getElementById("sessions");
const emptyEl = document.getElementById("empty");
const summaryEl = document.getElementById("summary");
const statusEl = document.getElementById("feed-status");
for (const el of document.querySelectorAll(".origin")) el.textContent = location.origin;

/** Seconds since the epoch of each point kept. */
let times = [];
/** name → { card, figures, data: {key: values[]}, charts, visible, busy } */
const sessions = new Map();
let order = [];

function formatBytes(n) {
  if (n == null) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function formatNumber(n) {
  if (n == null) return "–";
  if (n >= 100) return String(Math.round(n));
  if (n >= 10) return n.toFixed(1);
  return n === 0 ? "0" : n.toFixed(2);
}

const formatters = { n: formatNumber, ms: formatNumber, bytes: formatBytes };
/** The least top of each y scale, so an idle chart still has sensible ticks. */
const scaleFloor = { n: 1, ms: 1, bytes: 1024 };

const visibility = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const s = sessions.get(entry.target.dataset.session);
    if (!s) continue;
    s.visible = entry.isIntersecting;
    if (s.visible) drawCharts(s);
  }
}, { rootMargin: "300px" });

function chartOptions(def, width) {
  // x is seconds before the latest point: the charts scroll over a fixed window.
  const scales = { x: { time: false, range: [-HISTORY, 0] } };
  const axes = [{
    size: 24,
    font: "11px system-ui",
    gap: 2,
    splits: () => [-HISTORY, -HISTORY * 2 / 3, -HISTORY / 3, 0],
    values: (_u, values) => values.map((v) => (v === 0 ? "now" : `${v / 60} min`)),
  }];
  for (const [, , , scale] of def.series) {
    if (scales[scale]) continue;
    scales[scale] = { range: (_u, _min, max) => [0, Math.max(scaleFloor[scale], (max ?? 0) * 1.15)] };
    axes.push({
      scale,
      side: axes.length === 1 ? 3 : 1,
      size: scale === "bytes" ? 64 : 46,
      font: "11px system-ui",
      grid: { show: axes.length === 1 },
      values: (_u, values) => values.map(formatters[scale]),
    });
  }
  return {
    title: def.title,
    width,
    height: CHART_HEIGHT,
    legend: { live: false },
    cursor: { drag: { x: false, y: false } },
    scales,
    axes,
    series: [{}, ...def.series.map(([, label, stroke, scale]) => ({ label, stroke, scale, width: 1.5 }))],
  };
}

function chartData(s, def) {
  const last = times.at(-1) ?? 0;
  return [times.map((t) => t - last), ...def.series.map(([key]) => s.data[key])];
}

function drawCharts(s) {
  if (!s.charts) {
    s.charts = CHARTS.map((def, i) => {
      const el = s.chartEls[i];
      return new uPlot(chartOptions(def, Math.max(200, el.clientWidth)), chartData(s, def), el);
    });
  } else {
    s.charts.forEach((chart, i) => chart.setData(chartData(s, CHARTS[i])));
  }
  s.card.dataset.chartRpsMax = String(Math.max(0, ...s.data.rps.filter((v) => v != null)));
}

function figure(label) {
  const span = document.createElement("span");
  const value = document.createElement("b");
  const name = document.createElement("span");
  name.className = "label";
  name.textContent = label;
  span.append(value, name);
  return { span, value };
}

function createSession(name) {
  const card = document.createElement("section");
  card.className = "session";
  card.dataset.session = name;
  const head = document.createElement("div");
  head.className = "session-head";
  const title = document.createElement("h2");
  title.textContent = name;
  const link = document.createElement("a");
  link.target = "_blank";
  link.rel = "noopener";
  const figuresEl = document.createElement("div");
  figuresEl.className = "figures";
  const figures = {
    rps: figure("req/s"),
    p50: figure("ms p50"),
    p99: figure("ms p99"),
    streams: figure("streams"),
    wait: figure("ms wait p99"),
    queue: figure("queued"),
    bytes: figure("/s to visitors"),
    uplinks: figure("uplinks"),
    refused: figure("refused/s"),
  };
  figures.rps.span.className = "rps";
  figuresEl.append(...Object.values(figures).map((f) => f.span));
  head.append(title, link, figuresEl);
  const chartsEl = document.createElement("div");
  chartsEl.className = "charts";
  const chartEls = CHARTS.map(() => {
    const el = document.createElement("div");
    el.className = "chart";
    chartsEl.append(el);
    return el;
  });
  card.append(head, chartsEl);
  const data = {};
  for (const key of SERIES_KEYS) data[key] = new Array(times.length).fill(null);
  const s = { name, card, link, figures, chartEls, data, charts: null, visible: false, busy: 0 };
  sessions.set(name, s);
  visibility.observe(card);
  return s;
}

function removeSession(s) {
  visibility.unobserve(s.card);
  for (const chart of s.charts ?? []) chart.destroy();
  s.card.remove();
  sessions.delete(s.name);
}

function showFigures(s, p) {
  const f = s.figures;
  f.rps.value.textContent = formatNumber(p.rps);
  f.rps.span.classList.toggle("bad", p.errors > 0);
  f.p50.value.textContent = formatNumber(p.p50);
  f.p99.value.textContent = formatNumber(p.p99);
  f.streams.value.textContent = String(p.streams);
  f.wait.value.textContent = formatNumber(p.waitP99);
  f.queue.value.textContent = formatBytes(p.queueBytes);
  f.bytes.value.textContent = formatBytes(p.toVisitorBps);
  f.uplinks.value.textContent = String(p.uplinks);
  f.refused.value.textContent = formatNumber(p.refused ?? 0);
  f.refused.span.classList.toggle("bad", (p.refused ?? 0) > 0);
  s.card.dataset.rps = String(p.rps);
  s.card.dataset.refused = String(p.refused ?? 0);
}

/** Adds one feed point to the kept series. */
function addPoint(point) {
  times.push(point.t / 1000);
  const trim = times.length > HISTORY;
  if (trim) times.shift();
  const present = new Set();
  for (const p of point.sessions) {
    present.add(p.name);
    const s = sessions.get(p.name) ?? createSession(p.name);
    for (const key of SERIES_KEYS) {
      const values = s.data[key];
      values.push(p[key]);
      while (values.length > times.length) values.shift();
    }
    s.latest = p;
  }
  for (const s of [...sessions.values()]) if (!present.has(s.name)) removeSession(s);
}

/** Shows the kept series: figures, order (busiest first), charts on screen. */
function render(point) {
  for (const s of sessions.values()) {
    const recent = s.data.rps.slice(-BUSY_WINDOW).filter((v) => v != null);
    s.busy = recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length);
    if (s.latest) showFigures(s, s.latest);
  }
  const next = [...sessions.values()].sort((a, b) => b.busy - a.busy || a.name.localeCompare(b.name));
  if (next.length !== order.length || next.some((s, i) => s !== order[i])) {
    sessionsEl.append(...next.map((s) => s.card));
    order = next;
  }
  for (const s of order) {
    s.link.href = `${location.protocol}//${s.name}.${location.host}/`;
    s.link.textContent = s.link.host;
    if (s.visible) drawCharts(s);
  }
  emptyEl.hidden = sessions.size > 0;
  if (point) {
    const total = point.sessions.reduce((n, p) => n + p.rps, 0);
    // Requests to Hosts naming no session are not a session card: one figure in the summary.
    const unknown = point.unknownRps > 0 ? ` · ${formatNumber(point.unknownRps)} req/s to unknown sessions` : "";
    summaryEl.textContent = `${point.sessions.length} session${point.sessions.length === 1 ? "" : "s"} · ` +
      `${formatNumber(total)} req/s${unknown} · RSS ${formatBytes(point.rssBytes)} · event-loop lag ${formatNumber(point.lagMs)} ms`;
  }
}

function reset() {
  for (const s of [...sessions.values()]) removeSession(s);
  times = [];
  order = [];
}

/** Seconds before asking again when the entry refused the feed (it serves a bounded number of them). */
const REFUSED_RETRY_SECONDS = 10;

function connectFeed() {
  const feed = new EventSource("/api/live");
  feed.addEventListener("open", () => {
    statusEl.textContent = "live";
    statusEl.className = "feed-status live";
  });
  feed.addEventListener("error", () => {
    statusEl.className = "feed-status down";
    if (feed.readyState !== EventSource.CLOSED) {
      statusEl.textContent = "feed lost, reconnecting…";
      return;
    }
    // A non-200 answer (503: too many dashboards open) makes EventSource give up; ask again later.
    statusEl.textContent = `feed refused, retrying in ${REFUSED_RETRY_SECONDS} s…`;
    setTimeout(connectFeed, REFUSED_RETRY_SECONDS * 1000);
  });
  feed.addEventListener("history", (event) => {
    reset();
    const points = JSON.parse(event.data);
    for (const point of points) addPoint(point);
    render(points.at(-1));
    if (points.length === 0) emptyEl.hidden = false;
  });
  feed.addEventListener("point", (event) => {
    const point = JSON.parse(event.data);
    addPoint(point);
    render(point);
  });
}
connectFeed();

const clusterEl = document.getElementById("cluster");
/** How often the cluster line (which entry this is, Redis, entries alive) is read again. */
const CLUSTER_EVERY_MS = 5000;

/** With Redis (several entries): which entry this page shows, and where the sessions are held. */
async function showCluster() {
  try {
    const answer = await (await fetch("/api/sessions")).json();
    const cluster = answer.cluster;
    if (!cluster) return; // one entry alone: no line, and no need to ask again
    const directory = cluster.directory;
    const elsewhere = directory ? Object.values(directory.sessions).filter((ids) => !ids.includes(cluster.instance)).length : 0;
    clusterEl.hidden = false;
    clusterEl.className = cluster.redis === "up" ? "cluster" : "cluster down";
    clusterEl.textContent = `· entry ${cluster.instance} · ` + (cluster.redis === "up"
      ? `${directory.entries.length} entr${directory.entries.length === 1 ? "y" : "ies"} alive · ${elsewhere} session${elsewhere === 1 ? "" : "s"} held elsewhere`
      : "Redis unreachable: serving its own sessions only");
    clusterEl.title = directory
      ? Object.entries(directory.sessions).map(([name, ids]) => `${name}: ${ids.join(", ")}`).join("\n")
      : "";
  } catch {
    // the feed's status already says when the entry cannot be reached
  }
  setTimeout(showCluster, CLUSTER_EVERY_MS);
}
showCluster();

let resizeTimer;
addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const s of sessions.values()) {
      s.charts?.forEach((chart, i) => chart.setSize({ width: Math.max(200, s.chartEls[i].clientWidth), height: CHART_HEIGHT }));
    }
  }, 150);
});
