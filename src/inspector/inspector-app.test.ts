import { describe, expect, test } from "bun:test";
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import { inspectorApp } from "./inspector-app.ts";
import { TOKEN_COOKIE } from "./inspector-access.ts";
import { RequestInspector } from "./request-inspector.ts";

const INSPECTOR = "127.0.0.1:4040";
const TARGET = new URL("http://127.0.0.1:3000/");

/** An inspector with one tunnel whose target echoes method, path and body; what the target got is kept. */
function setup(limits = {}, token?: string) {
  const inspector = new RequestInspector(limits);
  const got: { method: string; url: string; headers: [string, string][]; body: string }[] = [];
  const fetchTarget = async (request: TargetRequest): Promise<TargetResponse> => {
    const body = request.body ? await new Response(request.body).text() : "";
    got.push({ method: request.method, url: request.url, headers: request.headers, body });
    if (request.url.endsWith("/fail")) throw new Error("connection refused");
    const bytes = new TextEncoder().encode(JSON.stringify({ method: request.method, body }));
    return { status: 200, headers: [["content-type", "application/json"]], body: new Response(bytes).body, bytes: () => Promise.resolve(bytes) };
  };
  const send = inspector.wrapFetch("demo", () => TARGET, fetchTarget);
  const { app, close } = inspectorApp(inspector, { isOwnHost: (host) => host === INSPECTOR, token });
  const call = (path: string, init: RequestInit = {}) =>
    app.request(`http://${INSPECTOR}${path}`, { ...init, headers: { host: INSPECTOR, ...(init.headers as Record<string, string>) } });
  /** A request through the tunnel, read to its end (the record is complete then). */
  const through = async (path: string, init: { method?: string; body?: string; headers?: [string, string][] } = {}) => {
    const answer = await send({
      url: new URL(path, TARGET).href,
      method: init.method ?? "GET",
      headers: init.headers ?? [["x-app", "1"]],
      body: init.body === undefined ? null : new Response(init.body).body,
      signal: new AbortController().signal,
    });
    await new Response(answer.body).arrayBuffer();
  };
  return { inspector, call, through, got, close };
}

const json = { "content-type": "application/json" };

describe("inspector app", () => {
  test("lists and details what went through, bodies and headers included", async () => {
    const { call, through } = setup();
    await through("/orders?x=1", { method: "POST", body: '{"n":1}', headers: [["content-type", "application/json"]] });
    const list = await (await call("/api/requests")).json();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 1, tunnel: "demo", method: "POST", path: "/orders?x=1", status: 200, requestBytes: 7, complete: true, error: null });
    expect(list[0].durationMs).toBeGreaterThan(0);
    const one = await (await call(`/api/requests/${list[0].id}`)).json();
    expect(one.requestHeaders).toEqual([["content-type", "application/json"]]);
    expect(one.requestBody).toMatchObject({ size: 7, truncated: false, done: true });
    expect(one.responseBody.view.kind).toBe("json");
    expect(JSON.parse(one.responseBody.view.text)).toEqual({ method: "POST", body: '{"n":1}' });
    expect((await call("/api/requests/99")).status).toBe(404);
  });

  test("a target that fails is recorded with its error", async () => {
    const { call, through } = setup();
    await expect(through("/fail")).rejects.toThrow("connection refused");
    const [failed] = await (await call("/api/requests")).json();
    expect(failed).toMatchObject({ path: "/fail", status: null, error: "connection refused" });
  });

  test("replay sends the request again, with changes; refusals say why", async () => {
    const { call, through, got } = setup({ maxBodyBytesEach: 16 });
    await through("/a", { method: "POST", body: "hello" });
    const replayed = await call("/api/requests/1/replay", { method: "POST", headers: json, body: JSON.stringify({ path: "/b", body: "changed" }) });
    expect(replayed.status).toBe(200);
    expect((await replayed.json()).replayOf).toBe(1);
    expect(got.map((g) => [g.method, new URL(g.url).pathname, g.body])).toEqual([["POST", "/a", "hello"], ["POST", "/b", "changed"]]);
    // Refused: unknown id, a bad change, a GET with a body, a body larger than was kept, no JSON, another origin.
    expect((await call("/api/requests/99/replay", { method: "POST", headers: json, body: "" })).status).toBe(404);
    expect(await (await call("/api/requests/1/replay", { method: "POST", headers: json, body: '{"verb":"PUT"}' })).json()).toEqual({ error: "Unknown change: verb" });
    expect((await call("/api/requests/1/replay", { method: "POST", headers: json, body: '{"method":"GET"}' })).status).toBe(400);
    await through("/big", { method: "POST", body: "x".repeat(40) });
    const big = await call("/api/requests/3/replay", { method: "POST", headers: json, body: "" });
    expect([big.status, (await big.json()).error]).toEqual([409, "The request body (40 bytes) was larger than the 16 bytes kept: replay it with a body of your own"]);
    expect((await call("/api/requests/1/replay", { method: "POST", body: "{}" })).status).toBe(415);
    expect((await call("/api/requests/1/replay", { method: "POST", headers: { ...json, origin: "http://evil.example" }, body: "{}" })).status).toBe(403);
    expect(got).toHaveLength(3);
  });

  test("clearing empties the list; the store keeps only its limit, oldest dropped", async () => {
    const { call, through } = setup({ maxRequests: 3 });
    for (const path of ["/1", "/2", "/3", "/4", "/5"]) await through(path);
    expect((await (await call("/api/requests")).json()).map((r: { path: string }) => r.path).sort()).toEqual(["/3", "/4", "/5"]);
    expect((await call("/api/requests", { method: "DELETE" })).status).toBe(204);
    expect(await (await call("/api/requests")).json()).toEqual([]);
  });

  test("a WebSocket is one record that counts its messages", async () => {
    const { inspector, call } = setup();
    const tap = inspector.webSocket("demo", { method: "GET", path: "/ws", headers: [], responseHeaders: [] });
    tap.message(true);
    tap.message(false);
    tap.message(false);
    tap.closed(1000);
    const [ws] = await (await call("/api/requests")).json();
    expect(ws).toMatchObject({ path: "/ws", status: 101, webSocket: { toTarget: 1, fromTarget: 2, closed: true } });
    expect((await call(`/api/requests/${ws.id}/replay`, { method: "POST", headers: json, body: "" })).status).toBe(400);
  });

  test("the live feed sends each new request as an event", async () => {
    const { call, through, close } = setup();
    const live = await call("/api/live");
    expect(live.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const reader = live.body!.getReader();
    await through("/seen-live");
    let text = "";
    while (!text.includes("/seen-live")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain("event: added");
    close();
    // What was queued before the close still arrives, then the feed ends.
    let reads = 0;
    while (!(await reader.read()).done) expect(++reads).toBeLessThan(10);
  });

  test("another Host is 421; beyond loopback the token is asked for, and the printed URL sets it as a cookie", async () => {
    const { call } = setup({}, "s3cret-token");
    expect((await call("/api/requests", { headers: { host: "evil.example" } })).status).toBe(421);
    expect((await call("/api/requests")).status).toBe(401);
    expect((await call("/api/requests", { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
    const opened = await call("/?token=s3cret-token");
    expect([opened.status, opened.headers.get("location")]).toEqual([303, "/"]);
    expect(opened.headers.get("set-cookie")).toBe(`${TOKEN_COOKIE}=s3cret-token; Path=/; HttpOnly; SameSite=Strict`);
    expect((await call("/api/requests", { headers: { cookie: `${TOKEN_COOKIE}=s3cret-token` } })).status).toBe(200);
    expect((await call("/?token=wrong")).status).toBe(401);
  });
});
