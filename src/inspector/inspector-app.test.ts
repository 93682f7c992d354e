import { describe, expect, test } from "bun:test";
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import { inspectorApp } from "./inspector-app.ts";
import { tokenCookie } from "./inspector-access.ts";
import { RequestInspector } from "./request-inspector.ts";

const INSPECTOR = "127.0.0.1:4040";
const TOKEN_COOKIE = tokenCookie(INSPECTOR);
const TOKEN = "a1".repeat(16);
const TARGET = new URL("http://127.0.0.1:3000/");

/** An inspector with one tunnel whose target echoes method, path and body; what the target got is kept. */
function setup(limits = {}, token = TOKEN, scriptsWithoutToken = false) {
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
  const { app, close } = inspectorApp(inspector, { isOwnHost: (host) => host === INSPECTOR, token, scriptsWithoutToken });
  /** A request without the token. */
  const bare = (path: string, init: RequestInit = {}) =>
    app.request(`http://${INSPECTOR}${path}`, { ...init, headers: { host: INSPECTOR, ...(init.headers as Record<string, string>) } });
  /** A request with the token, as a script sends it. */
  const call = (path: string, init: RequestInit = {}) =>
    bare(path, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
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
  return { inspector, call, bare, through, got, close };
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

  test("on loopback a script reads without the token; anything a browser sends needs it", async () => {
    const { bare } = setup({}, TOKEN, true);
    expect((await bare("/api/requests", { headers: { "user-agent": "curl/8.5.0" } })).status).toBe(200);
    const browserSent: Record<string, string>[] = [
      { "sec-fetch-mode": "navigate" },
      { "sec-fetch-site": "same-origin" },
      { "sec-fetch-dest": "document" },
      { origin: `http://${INSPECTOR}` },
      { "upgrade-insecure-requests": "1" },
      { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" },
    ];
    for (const headers of browserSent) {
      expect([headers, (await bare("/api/requests", { headers })).status]).toEqual([headers, 401]);
      expect((await bare("/api/requests", { headers: { ...headers, cookie: `${TOKEN_COOKIE}=${TOKEN}` } })).status).toBe(200);
    }
  });

  test("another Host is 421; the token is asked for, and the printed URL sets it as this port's cookie", async () => {
    const { bare } = setup({}, "s3cret-token");
    expect((await bare("/api/requests", { headers: { host: "evil.example" } })).status).toBe(421);
    const refused = await bare("/api/requests");
    expect([refused.status, await refused.text()]).toEqual([401, expect.stringContaining("Open the URL its tunnel2 client printed")]);
    expect((await bare("/", { headers: { accept: "text/html" } })).status).toBe(401);
    expect((await bare("/api/requests", { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
    const opened = await bare("/?token=s3cret-token");
    expect([opened.status, opened.headers.get("location")]).toEqual([303, "/"]);
    const slashes = await bare("//evil.example/?token=s3cret-token");
    expect([slashes.status, slashes.headers.get("location")]).toEqual([303, "/evil.example/"]); // never another host
    expect(opened.headers.get("set-cookie")).toBe("tunnel2_inspector_4040=s3cret-token; Path=/; HttpOnly; SameSite=Strict");
    expect((await bare("/api/requests", { headers: { cookie: "tunnel2_inspector_4040=s3cret-token" } })).status).toBe(200);
    expect((await bare("/api/requests", { headers: { cookie: "tunnel2_inspector_4041=s3cret-token" } })).status).toBe(401);
    expect((await bare("/?token=wrong")).status).toBe(401);
  });
});

/** A replay request as the page sends it. */
const replay = (call: (path: string, init?: RequestInit) => Response | Promise<Response>, id: number | string, body: string, headers: Record<string, string> = {}) =>
  call(`/api/requests/${id}/replay`, { method: "POST", headers: { ...json, ...headers }, body });

/** The server-sent events of a live feed, one at a time, its opening comment first. */
function feed(response: Response) {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    /** The next event's text, or undefined once the feed has ended. */
    async next(): Promise<string | undefined> {
      while (!buffered.includes("\n\n")) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffered += decoder.decode(value, { stream: true });
      }
      const end = buffered.indexOf("\n\n");
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      return event;
    },
    cancel: () => reader.cancel(),
  };
}

describe("inspector app: access in detail", () => {
  test("a Host of another name or port, or none, gets 421 saying what was asked for", async () => {
    const { call } = setup();
    const foreign = await call("/api/requests", { headers: { host: "evil.example:4040" } });
    expect([foreign.status, await foreign.text()]).toEqual([421, "Misdirected request: this is the tunnel2 inspector, not evil.example:4040\n"]);
    expect((await call("/api/requests", { headers: { host: "127.0.0.1:4041" } })).status).toBe(421);
    expect((await call("/", { headers: { host: "127.0.0.1" } })).status).toBe(421);
    const unnamed = await call("/api/requests", { headers: { host: "" } });
    expect([unnamed.status, await unnamed.text()]).toEqual([421, "Misdirected request: this is the tunnel2 inspector, not an unnamed host\n"]);
    expect((await call("/api/requests")).status).toBe(200);
  });

  test("nothing close to the token passes; a foreign Host is refused even with it; ?token= works on a GET only", async () => {
    const token = "0123456789abcdef".repeat(2);
    const { bare: call, inspector, through } = setup({}, token);
    const near: Record<string, string>[] = [
      { authorization: `Bearer ${"f".repeat(32)}` },
      { authorization: `Basic ${token}` },
      { cookie: `${TOKEN_COOKIE}=${token.slice(1)}` },
      { cookie: `${TOKEN_COOKIE}x=${token}` },
    ];
    for (const headers of near) {
      expect([headers, (await call("/api/requests", { headers })).status]).toEqual([headers, 401]);
    }
    expect((await call("/api/requests", { headers: { cookie: `theme=dark; ${TOKEN_COOKIE}=${token}` } })).status).toBe(200);
    expect((await call("/api/requests", { headers: { host: "attacker.example:4040", authorization: `Bearer ${token}` } })).status).toBe(421);
    const opened = await call(`/api/requests?token=${token}`);
    expect([opened.status, opened.headers.get("location"), opened.headers.get("cache-control")]).toEqual([303, "/api/requests", "no-store"]);
    await through("/kept");
    expect((await call(`/api/requests?token=${token}`, { method: "DELETE" })).status).toBe(401);
    expect((await replay(call, `1`, "{}", { authorization: "Bearer wrong" })).status).toBe(401);
    expect(inspector.store.size).toBe(1);
  });

  test("a change from any origin but the inspector's own is 403 and changes nothing; reading from elsewhere is not refused", async () => {
    const { call, inspector, through, got } = setup();
    await through("/kept");
    for (const origin of ["http://evil.example", "https://127.0.0.1:4040", `file://${INSPECTOR}`, "null", "http://127.0.0.1:4040.evil.example"]) {
      const refused = await call("/api/requests", { method: "DELETE", headers: { origin } });
      expect([origin, refused.status, await refused.json()]).toEqual([origin, 403, { error: "Cross-origin requests may not change the inspector" }]);
      expect((await replay(call, 1, "{}", { origin })).status).toBe(403);
    }
    const plain = await call("/api/requests/1/replay", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect([plain.status, await plain.json()]).toEqual([415, { error: "Send a JSON body (content-type: application/json)" }]);
    expect([inspector.store.size, got.length]).toEqual([1, 1]);
    expect((await call("/api/requests", { headers: { origin: "http://evil.example" } })).status).toBe(200);
    expect((await replay(call, 1, "{}", { origin: `http://${INSPECTOR}` })).status).toBe(200);
    expect((await call("/api/requests", { method: "DELETE", headers: { origin: `http://${INSPECTOR}` } })).status).toBe(204);
    expect(inspector.store.size).toBe(0);
  });
});

describe("inspector app: the API in detail", () => {
  test("a summary has exactly its fields; one whose response is still coming is listed incomplete", async () => {
    const { call, through, inspector } = setup();
    const before = Date.now();
    await through("/hook?x=1", { method: "POST", body: '{"amount":42}' });
    const pending = inspector.store.add({ tunnel: "demo", time: Date.now(), method: "GET", path: "/slow", requestHeaders: [] });
    pending.status = 200;
    const [slow, hook] = await (await call("/api/requests")).json();
    expect(hook).toEqual({
      id: 1,
      tunnel: "demo",
      time: expect.any(Number),
      method: "POST",
      path: "/hook?x=1",
      status: 200,
      durationMs: expect.any(Number),
      requestBytes: 13,
      responseBytes: JSON.stringify({ method: "POST", body: '{"amount":42}' }).length,
      complete: true,
      error: null,
      replayOf: null,
      webSocket: null,
      tcp: null,
    });
    expect(hook.time).toBeGreaterThanOrEqual(before);
    expect(hook.time).toBeLessThanOrEqual(Date.now());
    expect(slow).toMatchObject({ id: 2, path: "/slow", status: 200, durationMs: null, complete: false, responseBytes: 0 });
  });

  test("a detail shows each body with its type, view and what was cut; an id not held is 404 saying so", async () => {
    const { call, through } = setup({ maxBodyBytesEach: 16 });
    await through("/text", { method: "POST", body: "hello, inspector: more than sixteen bytes", headers: [["content-type", "text/plain"], ["x-sig", "s1"]] });
    await through("/json", { method: "POST", body: '{"a":1}', headers: [["content-type", "application/json"]] });
    const text = await (await call("/api/requests/1")).json();
    expect(text.requestHeaders).toEqual([["content-type", "text/plain"], ["x-sig", "s1"]]);
    expect(text.requestBody).toEqual({ size: 41, keptBytes: 16, truncated: true, done: true, contentType: "text/plain", view: { kind: "text", text: "hello, inspector" } });
    expect(text.responseHeaders).toEqual([["content-type", "application/json"]]);
    expect(text.responseBody).toMatchObject({ keptBytes: 16, truncated: true, done: true, contentType: "application/json", view: { kind: "text" } });
    const json = await (await call("/api/requests/2")).json();
    expect(json.requestBody).toEqual({ size: 7, keptBytes: 7, truncated: false, done: true, contentType: "application/json", view: { kind: "json", text: '{\n  "a": 1\n}' } });
    for (const id of ["3", "abc", "0", "1.5"]) {
      const missing = await call(`/api/requests/${id}`);
      expect([missing.status, await missing.json()]).toEqual([404, { error: `No request ${id}` }]);
    }
  });

  test("a replay sends exactly the changed bytes, framed anew, answers with its detail, and is listed first", async () => {
    const { call, through, got } = setup();
    await through("/hook?x=1", { method: "POST", body: '{"amount":42}', headers: [["content-type", "application/json"], ["content-length", "13"], ["host", "demo.tunnel.test"]] });
    const same = await replay(call, 1, "");
    expect([same.status, (await same.json()).path]).toEqual([200, "/hook?x=1"]);
    expect(got[1]).toEqual({ method: "POST", url: "http://127.0.0.1:3000/hook?x=1", headers: [["content-type", "application/json"], ["content-length", "13"]], body: '{"amount":42}' });
    const changes = { method: "PUT", path: "/other", headers: [["content-type", "text/plain"], ["Content-Length", "1"], ["x-sig", "s2"]], body: "ünïcode" };
    const changed = await replay(call, 1, JSON.stringify(changes));
    const detail = await changed.json();
    expect([changed.status, detail.id, detail.replayOf, detail.method, detail.path, detail.complete]).toEqual([200, 3, 1, "PUT", "/other", true]);
    expect(detail.requestBody).toMatchObject({ size: 9, view: { kind: "text", text: "ünïcode" } });
    expect(detail.responseBody.view).toEqual({ kind: "json", text: '{\n  "method": "PUT",\n  "body": "ünïcode"\n}' });
    expect(got[2]).toEqual({ method: "PUT", url: "http://127.0.0.1:3000/other", headers: [["content-type", "text/plain"], ["x-sig", "s2"], ["content-length", "9"]], body: "ünïcode" });
    const listed = await (await call("/api/requests")).json();
    expect(listed.map((r: { id: number; replayOf: number | null }) => [r.id, r.replayOf])).toEqual([[3, 1], [2, 1], [1, null]]);
  });

  test("each replay refusal has its status and message, and sends nothing", async () => {
    const { call, through, got, inspector } = setup({ maxBodyBytesEach: 4 });
    await through("/big", { method: "POST", body: "more than four" });
    inspector.webSocket("demo", { method: "GET", path: "/ws", headers: [], responseHeaders: [] });
    const cases: [string, string, number, string][] = [
      ["9", "{}", 404, "No request 9 (cleared, or dropped past the limits)"],
      ["x", "{}", 404, "No request NaN (cleared, or dropped past the limits)"],
      ["2", "{}", 400, "A WebSocket cannot be replayed"],
      ["1", " ", 409, "The request body (14 bytes) was larger than the 4 bytes kept: replay it with a body of your own"],
      ["1", '{"path":"nope","body":""}', 400, "Cannot send this request: the request target is not a path"],
      ["1", '{"method":"GET","body":"x"}', 400, "A GET request carries no body here"],
      ["1", "{not json", 400, "The body is not JSON"],
      ["1", "[]", 400, "Changes are a JSON object: {method, path, headers, body}"],
      ["1", "null", 400, "Changes are a JSON object: {method, path, headers, body}"],
      ["1", '{"method":1}', 400, "method is a string"],
      ["1", '{"path":["/x"]}', 400, "path is a string"],
      ["1", '{"body":{"a":1}}', 400, "body is a string"],
      ["1", '{"headers":{"x-a":"1"}}', 400, "headers is a list of [name, value] pairs"],
      ["1", '{"headers":[["x-a"]]}', 400, "headers is a list of [name, value] pairs"],
      ["1", '{"headers":[["x-a",1]]}', 400, "headers is a list of [name, value] pairs"],
    ];
    for (const [id, body, status, error] of cases) {
      const refused = await replay(call, id, body);
      expect([id, body, refused.status, await refused.json()]).toEqual([id, body, status, { error }]);
    }
    expect([got.length, inspector.store.size]).toEqual([1, 2]);
  });

  test("a replay whose target cannot be reached is 502, its detail saying why", async () => {
    const { call, through } = setup();
    await expect(through("/fail")).rejects.toThrow("connection refused");
    const failed = await replay(call, 1, "{}");
    expect(failed.status).toBe(502);
    expect(await failed.json()).toMatchObject({ id: 2, replayOf: 1, path: "/fail", status: null, complete: true, error: "connection refused" });
  });

  test("after clearing, the old ids are gone and new ones carry on", async () => {
    const { call, through } = setup();
    await through("/a");
    await through("/b");
    const cleared = await call("/api/requests", { method: "DELETE" });
    expect([cleared.status, await cleared.text()]).toEqual([204, ""]);
    expect((await call("/api/requests/2")).status).toBe(404);
    expect((await replay(call, 2, "{}")).status).toBe(404);
    await through("/c");
    expect((await (await call("/api/requests")).json()).map((r: { id: number }) => r.id)).toEqual([3]);
  });
});

describe("inspector app: the live feed in detail", () => {
  test("added, updated, dropped and cleared arrive in order as events; a cancelled feed is unsubscribed", async () => {
    const { call, through, inspector } = setup({ maxRequests: 1 });
    const response = await call("/api/live");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const events = feed(response);
    const data = async (type: string) => {
      const event = (await events.next())!;
      expect(event).toStartWith(`event: ${type}\ndata: `);
      return JSON.parse(event.slice(`event: ${type}\ndata: `.length));
    };
    expect(await events.next()).toBe(": tunnel2 inspector");
    await through("/one");
    expect(await data("added")).toMatchObject({ id: 1, path: "/one", status: null, complete: false });
    // Its head, then the end of its body.
    expect(await data("updated")).toMatchObject({ id: 1, status: 200, complete: false });
    expect(await data("updated")).toMatchObject({ id: 1, status: 200, complete: true });
    await through("/two");
    expect(await data("dropped")).toEqual({ id: 1 });
    expect(await data("added")).toMatchObject({ id: 2, path: "/two" });
    await data("updated");
    await data("updated");
    await call("/api/requests", { method: "DELETE" });
    expect(await data("cleared")).toEqual({});
    await events.cancel();
    // A listener left behind would enqueue on the cancelled stream, which throws, failing the request's capture.
    await through("/three");
    expect(inspector.store.list().map((r) => [r.path, r.durationMs !== undefined])).toEqual([["/three", true]]);
    expect(await events.next()).toBeUndefined();
  });

  test("at most 8 feeds at once: the ninth is 503 with Retry-After; cancelling one frees its place", async () => {
    const { call } = setup();
    const open = [];
    for (let i = 0; i < 8; i++) {
      const response = await call("/api/live");
      expect(response.status).toBe(200);
      open.push(feed(response));
    }
    const ninth = await call("/api/live");
    expect([ninth.status, ninth.headers.get("retry-after"), await ninth.text()]).toEqual([503, "5", "Service unavailable: 8 live feeds are open\n"]);
    await open[3].cancel();
    expect((await call("/api/live")).status).toBe(200);
  });

  test("a feed that stops reading is cut once 2000 events wait in it; one that reads is not", async () => {
    const { call, inspector } = setup({ maxRequests: 5000 });
    const reading = feed(await call("/api/live"));
    const stalled = feed(await call("/api/live"));
    expect(await reading.next()).toBe(": tunnel2 inspector");
    for (let i = 1; i <= 2100; i++) {
      inspector.store.add({ tunnel: "demo", time: Date.now(), method: "GET", path: `/${i}`, requestHeaders: [] });
      expect(await reading.next()).toStartWith(`event: added\ndata: {"id":${i},`);
    }
    let waiting = 0;
    while ((await stalled.next()) !== undefined) waiting++;
    // Its opening comment and the first 2000 events: then it was closed.
    expect(waiting).toBe(2001);
    inspector.store.add({ tunnel: "demo", time: Date.now(), method: "GET", path: "/last", requestHeaders: [] });
    expect(await reading.next()).toStartWith('event: added\ndata: {"id":2101,');
  });
});

describe("inspector app: the page", () => {
  test("the page and its files are served under a content-security policy; any other name is 404", async () => {
    const { call } = setup();
    const page = await call("/");
    expect([page.status, page.headers.get("content-type"), page.headers.get("x-content-type-options")]).toEqual([200, "text/html; charset=utf-8", "nosniff"]);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("<html");
    const script = await call("/inspector/inspector.js");
    expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    expect((await call("/inspector/dashboard.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
    for (const name of ["nope.js", "constructor", "__proto__", "hasOwnProperty"]) expect([name, (await call(`/inspector/${name}`)).status]).toEqual([name, 404]);
    expect((await call("/favicon.ico")).status).toBe(204);
  });
});
