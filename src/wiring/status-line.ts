/** What a terminal shows of a running tunnel: its status line, and one line per request. */
import type { AgentStatus, AnsweredRequest } from "../client/agent.ts";
import { uplinksOn } from "../client/server-choice.ts";
import { escapeControls } from "../log.ts";

/** One status line per tunnel: uplinks, requests/s, p50/p99, the inspector, the last error and its age, where the uplinks are (what a narrow terminal cuts first comes last). */
export function statusLines(statuses: { session: string; status: AgentStatus }[], inspector: string | undefined, now = Date.now()): string[] {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "—");
  // What matters most comes first: a narrow terminal cuts the line's end.
  return statuses.map(({ session, status: s }, i) => {
    const on = uplinksOn(s.uplinkServers);
    return `${statuses.length > 1 ? `${session}: ` : ""}uplinks ${s.uplinksUp}/${s.uplinksWanted} · ${s.rps.toFixed(1)} req/s · ` +
      `p50 ${ms(s.p50)} · p99 ${ms(s.p99)}${i === 0 && inspector ? ` · inspector ${inspector.replace(/^http:\/\//, "")}` : ""} · ` +
      `${s.lastError ? `last error ${ago(now - s.lastError.at)}: ${s.lastError.text}` : "no errors"}${on ? ` · uplinks${on}` : ""}`;
  });
}

/** How long ago, as a status line says it: 8s, 3m, 2h. */
function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
}

/** A request's line, as ngrok prints one: time, method, path, status, time to the answer's head. */
export function requestLine(session: string | undefined, r: AnsweredRequest): string {
  const time = new Date().toTimeString().slice(0, 8);
  const path = r.path.length > 200 ? `${r.path.slice(0, 199)}…` : r.path;
  return escapeControls(`${time} ${session ? `${session} ` : ""}${r.method.padEnd(6)} ${path} ${r.status} ${r.ms < 10 ? r.ms.toFixed(1) : Math.round(r.ms)} ms`);
}
