/**
 * End to end: the client's request inspector (`--inspect`), on both
 * runtimes, with a real entry and target: requests appear in its API with
 * their fields, a replay reaches the target again (its echo says what it
 * saw), a replay with a changed body, bounded memory under a 1 GiB
 * download, and `--no-inspect` opening no port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { startTarget } from "./helpers/target-server.ts";
import { startWebSocketTarget } from "./helpers/websocket-target.ts";
import { startRawTarget } from "./helpers/raw-target.ts";
import { type Entry, peakRssMiB, type Runtime, type Started, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { visit } from "./helpers/visitor.ts";
import { connect } from "node:net";
import { eventually } from "./helpers/wait.ts";

const target = startTarget();
const wsTarget = startWebSocketTarget();
afterAll(async () => {
  await stopAll();
  target.stop();
  wsTarget.stop();
});

/** The TCP ports a process listens on (from /proc: its socket inodes among the listening sockets). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":").pop()!, 16));
    }
  }
  return ports;
}

/** The inspector a client printed: its address, its token, and a fetch that carries the token as a script does. */
async function printedInspector(client: Started) {
  const [, base, port, token] = await eventually(() => client.output().match(/Inspector +(http:\/\/[\d.]+:(\d+))\/\?token=([0-9a-f]{32})/) ?? undefined);
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
  return { base, port, token, call };
}

interface Summary {
  id: number;
  method: string;
  path: string;
  status: number | null;
  requestBytes: number;
  responseBytes: number;
  complete: boolean;
  replayOf: number | null;
  durationMs: number | null;
}

describe.each(["bun", "deno"] as Runtime[])("request inspector, client on %s", (runtime) => {
  const session = `inspect-${runtime}`;
  let entry: Entry;
  let inspector: Awaited<ReturnType<typeof printedInspector>>;
  let clientPid: number;

  beforeAll(async () => {
    entry = await startEntry("bun");
    const client = await startClient(runtime, entry, session, `http://127.0.0.1:${target.port}`, ["--inspect", "127.0.0.1:0"]);
    clientPid = client.proc.pid;
    inspector = await printedInspector(client);
  });

  const list = async (): Promise<Summary[]> => (await inspector.call(`/api/requests`)).json();
  const one = async (id: number) => (await inspector.call(`/api/requests/${id}`)).json();
  const replay = (id: number, changes?: object) =>
    inspector.call(`/api/requests/${id}/replay`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(changes ?? {}) });

  test("a request through the tunnel appears with its fields; its JSON body is shown pretty-printed", async () => {
    await inspector.call(`/api/requests`, { method: "DELETE" });
    const res = await visit(entry.port, session, "/echo?hook=1", {
      method: "POST",
      headers: { "content-type": "application/json", "x-signature": "sig-1" },
      body: '{"event":"payment.succeeded","amount":42}',
    });
    expect(res.status).toBe(200);
    const echoed = await res.json();
    const [row] = await eventually(async () => {
      const rows = await list();
      return rows.length === 1 && rows[0].complete ? rows : undefined;
    });
    expect(row).toMatchObject({ method: "POST", path: "/echo?hook=1", status: 200, requestBytes: 41, replayOf: null });
    expect(row.responseBytes).toBeGreaterThan(100);
    const d = await one(row.id);
    expect(d.requestHeaders).toContainEqual(["x-signature", "sig-1"]);
    expect(d.requestBody.view).toEqual({ kind: "json", text: '{\n  "event": "payment.succeeded",\n  "amount": 42\n}' });
    expect(d.responseHeaders).toContainEqual(["x-echo", "1"]);
    expect(JSON.parse(d.responseBody.view.text)).toEqual(echoed);
  });

  test("a replay reaches the target again with the same method, headers and body, and is listed as a replay", async () => {
    const [original] = await list();
    const res = await replay(original.id);
    expect(res.status).toBe(200);
    const again = await res.json();
    expect(again).toMatchObject({ method: "POST", path: "/echo?hook=1", status: 200, replayOf: original.id });
    const seen = JSON.parse(again.responseBody.view.text);
    expect(seen.method).toBe("POST");
    expect(seen.target).toBe("/echo?hook=1");
    expect(seen.bodyHash).toBe(createHash("sha256").update('{"event":"payment.succeeded","amount":42}').digest("hex"));
    expect(seen.headers).toContainEqual(["x-signature", "sig-1"]);
    expect((await list())[0]).toMatchObject({ id: again.id, replayOf: original.id });
  });

  test("a replay with a changed body, method and header", async () => {
    const original = (await list()).find((r) => r.replayOf === null)!;
    const res = await replay(original.id, { body: '{"event":"payment.failed"}', headers: [["content-type", "application/json"], ["x-signature", "sig-2"]] });
    const again = await res.json();
    const seen = JSON.parse(again.responseBody.view.text);
    expect(seen.bodyHash).toBe(createHash("sha256").update('{"event":"payment.failed"}').digest("hex"));
    expect(seen.headers).toContainEqual(["x-signature", "sig-2"]);
    expect(seen.headers).toContainEqual(["content-length", "26"]);
    const put = await (await replay(original.id, { method: "PUT", path: "/echo?changed" })).json();
    expect(JSON.parse(put.responseBody.view.text)).toMatchObject({ method: "PUT", target: "/echo?changed" });
    const bad = await replay(original.id, { path: "no slash" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain("request target is not a path");
  });

  test("a request whose upload stopped short is not replayed as if it were whole", async () => {
    // 10 of 1000 bytes, then the visitor goes away.
    const socket = connect(entry.port, "127.0.0.1");
    await new Promise((resolve) => socket.on("connect", resolve));
    socket.write(`POST /echo?partial HTTP/1.1\r\nHost: ${session}.localhost:${entry.port}\r\nContent-Length: 1000\r\n\r\n0123456789`);
    await Bun.sleep(300);
    socket.destroy();
    const row = await eventually(async () => (await list()).find((r) => r.path === "/echo?partial" && r.complete));
    const res = await replay(row.id);
    expect(res.status).toBe(409);
    expect((await res.json()).error).toContain("did not arrive whole");
  });

  test("only the inspector's own Host names are served, and changes need JSON from its own origin", async () => {
    const rebound = await inspector.call(`/api/requests`, { headers: { host: "evil.example:80" } });
    expect(rebound.status).toBe(421);
    const [row] = await list();
    const form = await inspector.call(`/api/requests/${row.id}/replay`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(form.status).toBe(415);
    const crossSite = await inspector.call(`/api/requests/${row.id}/replay`, { method: "POST", headers: { "content-type": "application/json", origin: "http://evil.example" }, body: "{}" });
    expect(crossSite.status).toBe(403);
  });

  test("a 1 GiB download through the tunnel grows the client's memory by no more than the capture bounds", async () => {
    const download = async () => {
      const res = await visit(entry.port, session, `/download?bytes=${1024 * 1024 * 1024}`);
      let bytes = 0;
      for await (const chunk of res.body!) bytes += chunk.byteLength;
      expect(bytes).toBe(1024 * 1024 * 1024);
    };
    // The first download grows the runtime's own buffers (with or without an inspector); the second is measured.
    await download();
    const before = await peakRssMiB(clientPid);
    await download();
    const rows = await eventually(async () => {
      const found = (await list()).filter((r) => r.path.startsWith("/download") && r.complete);
      return found.length === 2 ? found : undefined;
    });
    expect(rows[0].responseBytes).toBe(1024 * 1024 * 1024);
    const d = await one(rows[0].id);
    expect(d.responseBody).toMatchObject({ keptBytes: 1024 * 1024, truncated: true, size: 1024 * 1024 * 1024 });
    expect(d.responseBody.view.kind).toBe("binary");
    // What the inspector may keep is 1 MiB per body (64 MiB in all); a body copied whole would be 1 GiB.
    expect(await peakRssMiB(clientPid) - before).toBeLessThan(64);
  }, 90_000);

  test("a WebSocket is listed with its messages each way, and as closed once it is", async () => {
    const wsSession = `${session}-ws`;
    const client = await startClient(runtime, entry, wsSession, `http://127.0.0.1:${wsTarget.port}`, ["--inspect", "127.0.0.1:0"]);
    const own = await printedInspector(client);
    const ws = new WebSocket(`ws://127.0.0.1:${entry.port}/echo?room=1`, { headers: { host: `${wsSession}.localhost:${entry.port}` } } as unknown as string[]);
    const echoes: string[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error("WebSocket failed to open"));
    });
    ws.onmessage = (event) => echoes.push(String(event.data));
    for (const text of ["one", "two", "three"]) ws.send(text);
    await eventually(() => (echoes.length === 3 ? true : undefined));
    ws.close(1000);
    const row = await eventually(async () => {
      const rows: Summary[] & { webSocket: { toTarget: number; fromTarget: number; closed: boolean } | null }[] = await (await own.call(`/api/requests`)).json();
      const found = rows.find((r) => r.path === "/echo?room=1");
      return found?.webSocket?.closed ? found : undefined;
    });
    expect(row).toMatchObject({ method: "GET", status: 101, webSocket: { toTarget: 3, fromTarget: 3, closed: true } });
  });

  test("a small gzip form that decodes to millions of fields opens as a bounded view", async () => {
    const post = (text: string) =>
      visit(entry.port, session, "/echo?bomb", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" },
        body: gzipSync(text, { level: 9 }),
      }).then((r) => r.arrayBuffer());
    await post("a&".repeat(4 * 1024 * 1024)); // 8 MiB decoded
    await post("a&".repeat(512 * 1024 - 8)); // just under 1 MiB decoded
    const [under, bomb] = (await list()).filter((r) => r.path === "/echo?bomb");
    for (let i = 0; i < 3; i++) {
      const text = await (await inspector.call(`/api/requests/${bomb.id}`)).text();
      expect(text.length).toBeLessThan(64 * 1024);
      expect(JSON.parse(text).requestBody.decodeError).toContain("exceeds 1 MiB");
    }
    const text = await (await inspector.call(`/api/requests/${under.id}`)).text();
    expect(text.length).toBeLessThan(64 * 1024);
    const view = JSON.parse(text).requestBody.view;
    expect([view.kind, view.fields.length, view.cut]).toEqual(["form", 1000, `showing the first 1000 of ${512 * 1024 - 8} fields`]);
  });

  test("JSON nested 20 000 deep and a form value of 1 MiB open as bounded views", async () => {
    const post = (type: string, text: string) =>
      visit(entry.port, session, "/echo?deep", { method: "POST", headers: { "content-type": type, "content-encoding": "gzip" }, body: gzipSync(text) }).then((r) => r.arrayBuffer());
    await post("application/json", `${"[".repeat(20_000)}${"]".repeat(20_000)}`);
    await post("application/x-www-form-urlencoded", `v=${"x".repeat(1024 * 1024 - 16)}`);
    const rows = (await list()).filter((r) => r.path === "/echo?deep");
    const views = await Promise.all(rows.map(async (r) => (await inspector.call(`/api/requests/${r.id}`)).text()));
    for (const text of views) expect(text.length).toBeLessThan(300 * 1024);
    const kinds = views.map((text) => JSON.parse(text).requestBody.view);
    const [json, fields] = [kinds.find((v) => v.kind !== "form"), kinds.find((v) => v.kind === "form")];
    expect([json.kind, json.cut]).toEqual(["text", "nested too deeply to pretty-print"]);
    expect([fields.kind, fields.fields[0][1].length, fields.cut]).toEqual(["form", 256 * 1024 - 2, "showing the first 1 of 1 fields, the last cut at 262144 characters of the body"]);
  });

  test("with a base path in --to, a replay goes to exactly the path the original went to", async () => {
    const raw = await startRawTarget(); // it notes every request target it gets
    const based = await startClient(runtime, entry, `${session}-base`, `http://127.0.0.1:${raw.port}/base`, ["--inspect", "127.0.0.1:0"]);
    const url = await printedInspector(based);
    await (await visit(entry.port, `${session}-base`, "/echo?hook=base")).arrayBuffer();
    const [row] = await (await url.call(`/api/requests`)).json();
    expect(row.path).toBe("/echo?hook=base");
    const res = await url.call(`/api/requests/${row.id}/replay`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(200);
    expect(raw.seen.map((r) => r.target)).toEqual(["/base/echo?hook=base", "/base/echo?hook=base"]);
    raw.stop();
  });

  test("4040 taken: the client says so, moves to a free port, and a browser there needs this client's token", async () => {
    // Held by this test: another test's client may hold 4040 now and let it go at any moment.
    const holder = await eventually(() => Bun.serve({ hostname: "127.0.0.1", port: 4040, fetch: () => new Response("someone else") }), 20_000, 50);
    try {
      const client = await startClient(runtime, entry, `${session}-moved`, `http://127.0.0.1:${target.port}`, [], { TUNNEL_INSPECT: "" });
      const { base, port, call } = await printedInspector(client);
      expect(Number(port)).toBeGreaterThan(4040);
      expect(client.output()).toMatch(/Inspector +\S+ +\(every request, and Replay; 4040 is taken, maybe by another client\)/);
      expect((await fetch(`${base}/`, { headers: { "user-agent": "Mozilla/5.0", "sec-fetch-mode": "navigate" } })).status).toBe(401);
      expect((await call("/", { headers: { "user-agent": "Mozilla/5.0" } })).status).toBe(200);
    } finally {
      holder.stop(true);
    }
  });

  test("--no-inspect opens no port", async () => {
    const off = await startClient(runtime, entry, `${session}-off`, `http://127.0.0.1:${target.port}`, ["--no-inspect"], { TUNNEL_INSPECT: "" });
    expect(off.output()).not.toContain("Inspector");
    expect(listeningPorts(off.proc.pid)).toEqual([]);
    const on = await startClient(runtime, entry, `${session}-on`, `http://127.0.0.1:${target.port}`, ["--inspect", "127.0.0.1:0"]);
    const port = Number((await printedInspector(on)).port);
    expect(listeningPorts(on.proc.pid)).toEqual([port]);
  });
});

describe.each(["bun", "deno"] as Runtime[])("request inspector beyond loopback, client on %s", (runtime) => {
  let entry: Entry;
  beforeAll(async () => {
    entry = await startEntry("bun");
  });

  test("--inspect 0.0.0.0: a foreign Host gets 421, no token 401; the printed URL's token works as a cookie and as Bearer", async () => {
    const client = await startClient(runtime, entry, `wide-${runtime}`, `http://127.0.0.1:${target.port}`, ["--inspect", "0.0.0.0:0"]);
    const printed = await eventually(() => client.output().match(/Inspector +(http:\/\/127\.0\.0\.1:(\d+))\/\?token=([0-9a-f]{32})/) ?? undefined);
    const [, base, port, token] = printed;
    expect(client.output()).toContain("not loopback only: keep the token in its URL below to yourself");
    expect(client.output().split(token).length - 1).toBe(1); // printed once
    expect((await fetch(`${base}/api/requests`)).status).toBe(401);
    expect(await (await fetch(`${base}/api/requests`)).text()).toContain("Open the URL its tunnel2 client printed");
    expect((await fetch(`${base}/api/requests`, { headers: { authorization: `Bearer ${"0".repeat(32)}` } })).status).toBe(401);
    // A page rebound to this machine names its own host: refused even with the token.
    const rebound = await fetch(`${base}/api/requests`, { headers: { host: `attacker.example:${port}`, authorization: `Bearer ${token}` } });
    expect(rebound.status).toBe(421);
    expect((await fetch(`${base}/api/requests`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const opened = await fetch(`${base}/?token=${token}`, { redirect: "manual" });
    expect(opened.status).toBe(303);
    expect(opened.headers.get("location")).toBe("/");
    const cookie = opened.headers.get("set-cookie")!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    const page = await fetch(`${base}/`, { headers: { cookie: cookie.split(";")[0] } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<html");
    const crossSite = await fetch(`${base}/api/requests`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}`, origin: `http://attacker.example:${port}` },
    });
    expect(crossSite.status).toBe(403);
  });

  test("--inspect 127.0.0.2: a browser needs the token on loopback too, a script does not; only its own Host names", async () => {
    const client = await startClient(runtime, entry, `lo2-${runtime}`, `http://127.0.0.1:${target.port}`, ["--inspect", "127.0.0.2:0"]);
    const { base, port, call } = await printedInspector(client);
    expect(base).toStartWith("http://127.0.0.2:");
    expect((await fetch(`${base}/api/requests`)).status).toBe(200);
    expect((await fetch(`${base}/api/requests`, { headers: { "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin" } })).status).toBe(401);
    expect((await call("/api/requests", { headers: { "sec-fetch-mode": "cors" } })).status).toBe(200);
    expect((await fetch(`${base}/api/requests`, { headers: { host: `attacker.example:${port}` } })).status).toBe(421);
    expect((await fetch(`${base}/api/requests`, { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });
});
