// The request inspector page. Everything a visitor sent is put on the page
// with textContent (never innerHTML): a `<script>` in a path, header or body
// shows as those characters and runs nothing.
"use strict";

const rows = document.getElementById("rows");
const empty = document.getElementById("empty");
const filter = document.getElementById("filter");
const statusClass = document.getElementById("status-class");
const feedStatus = document.getElementById("feed-status");
const detail = document.getElementById("detail");
const editor = document.getElementById("editor");

/** Summaries by id, and their rows. */
const requests = new Map();
const rowOf = new Map();
let selected = null;
let selectedDetail = null;

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function bytesText(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function statusText(r) {
  if (r.tcp) return `TCP ${bytesText(r.tcp.bytesIn)}↑ ${bytesText(r.tcp.bytesOut)}↓${r.tcp.closed ? " closed" : ""}`;
  if (r.webSocket) return `WS ${r.webSocket.toTarget}↑ ${r.webSocket.fromTarget}↓${r.webSocket.closed ? " closed" : ""}`;
  if (r.error && r.status === null) return "failed";
  return r.status === null ? "…" : String(r.status);
}

function statusClassOf(r) {
  if (r.error && r.status === null) return "5";
  if (r.webSocket || r.tcp) return "1";
  return r.status === null ? "" : String(r.status)[0];
}

function matches(r) {
  const wanted = statusClass.value;
  if (wanted && statusClassOf(r) !== wanted) return false;
  const text = filter.value.trim().toLowerCase();
  if (!text) return true;
  return `${r.method} ${r.path} ${statusText(r)} ${r.tunnel} ${r.error ?? ""}`.toLowerCase().includes(text);
}

function renderRow(r) {
  const cls = statusClassOf(r);
  const row = el("tr", { "data-id": String(r.id) }, [
    el("td", { text: new Date(r.time).toLocaleTimeString() }),
    el("td", { className: "method", text: r.method }),
    el("td", { className: "path", text: r.path }),
    el("td", { className: r.error && r.status === null ? "failed" : `status-${cls}`, text: statusText(r) }),
    el("td", { text: r.durationMs === null ? "" : r.durationMs.toFixed(1) }),
    el("td", { text: bytesText(r.requestBytes) }),
    el("td", { text: bytesText(r.responseBytes) }),
  ]);
  if (r.replayOf !== null) {
    row.classList.add("replay");
    row.title = `replay of #${r.replayOf}`;
  }
  if (r.id === selected) row.classList.add("selected");
  row.hidden = !matches(r);
  row.addEventListener("click", () => select(r.id));
  return row;
}

function upsert(r) {
  requests.set(r.id, r);
  const row = renderRow(r);
  const old = rowOf.get(r.id);
  if (old) old.replaceWith(row);
  else rows.prepend(row);
  rowOf.set(r.id, row);
  empty.hidden = requests.size > 0;
  if (r.id === selected) loadDetail(r.id);
}

function clearAll() {
  requests.clear();
  rowOf.clear();
  rows.replaceChildren();
  empty.hidden = false;
  selected = null;
  detail.hidden = true;
}

function applyFilter() {
  for (const [id, row] of rowOf) row.hidden = !matches(requests.get(id));
}

function headText(first, headers) {
  return [first, ...(headers ?? []).map(([n, v]) => `${n}: ${v}`)].join("\n");
}

function renderBody(target, body) {
  const meta = [];
  if (body.size === 0 && body.done) meta.push("no body");
  else meta.push(body.truncated ? `first ${bytesText(body.keptBytes)} of ${bytesText(body.size)} kept` : bytesText(body.size));
  if (!body.done) meta.push("still arriving");
  if (body.contentType) meta.push(body.contentType);
  if (body.decodedFrom) meta.push(`decoded from ${body.decodedFrom} for display (the visitor got it encoded)`);
  if (body.decodeError) meta.push(`shown encoded: ${body.decodeError}`);
  const view = body.view;
  if (view.cut) meta.push(view.cut);
  const children = [el("div", { className: "body-meta", text: meta.join(" · ") })];
  if (view.kind === "json" || view.kind === "text") children.push(el("pre", { className: `body ${view.kind}`, text: view.text }));
  if (view.kind === "binary") children.push(el("div", { className: "body-meta", text: "binary" }), el("pre", { className: "body hex", text: view.hex }));
  if (view.kind === "form") {
    children.push(el("table", { className: "fields" }, view.fields.map(([n, v]) => el("tr", {}, [el("td", { text: n }), el("td", { text: v })]))));
  }
  target.replaceChildren(...children);
}

async function loadDetail(id) {
  const res = await fetch(`/api/requests/${id}`);
  if (!res.ok) return;
  const d = await res.json();
  if (selected !== id) return;
  selectedDetail = d;
  detail.hidden = false;
  document.getElementById("detail-title").textContent = `#${d.id} ${d.method} ${d.path}`;
  const notes = [`tunnel ${d.tunnel}`, new Date(d.time).toLocaleString()];
  if (d.replayOf !== null) notes.push(`replay of #${d.replayOf}`);
  if (d.durationMs !== null) notes.push(`${d.durationMs.toFixed(1)} ms`);
  if (d.error) notes.push(`error: ${d.error}`);
  document.getElementById("detail-note").textContent = notes.join(" · ");
  document.getElementById("replay").hidden = !!(d.webSocket || d.tcp);
  document.getElementById("edit").hidden = !!(d.webSocket || d.tcp);
  document.getElementById("request-head").textContent = headText(`${d.method} ${d.path}`, d.requestHeaders);
  renderBody(document.getElementById("request-body"), d.requestBody);
  document.getElementById("response-head").textContent = d.status === null ? (d.error ? `no answer: ${d.error}` : "waiting for the answer…") : headText(String(d.status), d.responseHeaders);
  renderBody(document.getElementById("response-body"), d.responseBody);
}

function select(id) {
  selected = id;
  for (const [rid, row] of rowOf) row.classList.toggle("selected", rid === id);
  editor.hidden = true;
  loadDetail(id);
}

async function replay(changes) {
  if (selected === null) return;
  const res = await fetch(`/api/requests/${selected}/replay`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(changes ?? {}),
  });
  const answer = await res.json();
  if (answer.id !== undefined) {
    upsert(answer);
    select(answer.id);
  } else {
    document.getElementById("detail-note").textContent = `Replay refused: ${answer.error}`;
  }
}

function openEditor() {
  const d = selectedDetail;
  if (!d) return;
  document.getElementById("edit-method").value = d.method;
  document.getElementById("edit-path").value = d.path;
  document.getElementById("edit-headers").value = d.requestHeaders.filter(([n]) => n.toLowerCase() !== "content-length").map(([n, v]) => `${n}: ${v}`).join("\n");
  const view = d.requestBody.view;
  // A view that shows only the start of the body would replay only that start: leave the body to the user.
  const whole = !view.cut;
  document.getElementById("edit-body").value = !whole ? "" : view.kind === "json" || view.kind === "text" ? view.text : view.kind === "form" ? new URLSearchParams(view.fields).toString() : "";
  document.getElementById("edit-body").placeholder = whole ? "" : `too long to edit here (${view.cut}): type a body, or use Replay for the original`;
  editor.hidden = false;
}

editor.addEventListener("submit", (event) => {
  event.preventDefault();
  const headers = document.getElementById("edit-headers").value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
    const colon = line.indexOf(":");
    return colon > 0 ? [line.slice(0, colon).trim(), line.slice(colon + 1).trim()] : [line, ""];
  });
  replay({
    method: document.getElementById("edit-method").value.trim(),
    path: document.getElementById("edit-path").value.trim(),
    headers,
    body: document.getElementById("edit-body").value,
  });
  editor.hidden = true;
});
document.getElementById("cancel-edit").addEventListener("click", () => editor.hidden = true);
document.getElementById("replay").addEventListener("click", () => replay());
document.getElementById("edit").addEventListener("click", openEditor);
document.getElementById("clear").addEventListener("click", () => fetch("/api/requests", { method: "DELETE" }));
filter.addEventListener("input", applyFilter);
statusClass.addEventListener("change", applyFilter);

async function start() {
  // The feed first, then the list: nothing recorded in between is missed (a request in both is shown once).
  const live = new EventSource("/api/live");
  live.addEventListener("open", () => {
    feedStatus.textContent = "live";
    feedStatus.className = "feed-status live";
  });
  live.addEventListener("error", () => {
    feedStatus.textContent = "reconnecting…";
    feedStatus.className = "feed-status down";
  });
  for (const type of ["added", "updated"]) live.addEventListener(type, (event) => upsert(JSON.parse(event.data)));
  live.addEventListener("cleared", clearAll);
  // The client keeps the last 500: rows it dropped leave the page too.
  live.addEventListener("dropped", (event) => {
    const { id } = JSON.parse(event.data);
    rowOf.get(id)?.remove();
    rowOf.delete(id);
    requests.delete(id);
    empty.hidden = requests.size > 0;
  });
  const res = await fetch("/api/requests");
  for (const r of (await res.json()).reverse()) if (!requests.has(r.id)) upsert(r);
}
start();
