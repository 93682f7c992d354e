/** End to end: /metrics, /api/sessions and DASHBOARD_TOKEN on a real entry. */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { startTarget } from "./helpers/target-server.ts";
import { type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { visit } from "./helpers/visitor.ts";

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(() => stopAll());
afterAll(() => target.stop());

describe.each(["bun", "deno"] as Runtime[])("metrics, entry on %s", (runtime) => {
  test("/metrics counts requests, statuses, bytes and uplinks per session; no tokens or paths", async () => {
    const entry = await startEntry(runtime, { RATE_LIMIT_RPS: "1000", RATE_LIMIT_BURST: "1000" });
    await startClient("bun", entry, "counted", targetUrl, ["--token", "do-not-leak"]);
    for (let i = 0; i < 20; i++) await (await visit(entry.port, "counted", `/echo?secret-path-${i}`)).arrayBuffer();
    await (await visit(entry.port, "counted", "/status?code=204")).arrayBuffer();
    const res = await fetch(`http://127.0.0.1:${entry.port}/metrics`);
    expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain('tunnel2_requests_total{session="counted",class="2xx"} 21');
    expect(text).toContain('tunnel2_uplinks{session="counted"} 2');
    expect(text).toMatch(/tunnel2_request_duration_seconds_count\{session="counted"\} 21/);
    expect(text).toMatch(/tunnel2_body_bytes_total\{session="counted",direction="to_visitor"\} [1-9]\d*/);
    expect(text).toMatch(/tunnel2_writer_wait_seconds_count\{session="counted"\} [1-9]\d*/);
    expect(text).not.toContain("do-not-leak");
    expect(text).not.toContain("secret-path");
    const api = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
    expect(api.sessions[0].name).toBe("counted");
    expect(api.sessions[0].lastMinute.rps).toBeGreaterThan(0);
    expect(api.sessions[0].uplinks.length).toBe(2);
  });

  test("DASHBOARD_TOKEN protects the control plane but not /healthz or the data plane", async () => {
    const entry = await startEntry(runtime, { DASHBOARD_TOKEN: "let-me-in" });
    await startClient("bun", entry, "guarded", targetUrl);
    const base = `http://127.0.0.1:${entry.port}`;
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/api/sessions`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${base}/api/sessions`, { headers: { authorization: "Bearer let-me-in" } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Basic ${btoa("any:let-me-in")}` } })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: "Basic %%%" } })).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await visit(entry.port, "guarded", "/echo")).status).toBe(200);
  });
});
