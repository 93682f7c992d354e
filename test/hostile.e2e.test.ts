/**
 * The public edge under hostile input: real entry and client
 * processes on loopback, each runtime pairing, visitors and uplinks sending
 * what a stranger would. Every check here failed before its fix. The rule
 * throughout: a bad request costs only itself — never another request, the
 * uplink, or the entry.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encodeFrame } from "../src/protocol/frame.ts";
import { FrameKind } from "../src/protocol/constants.ts";
import { type Entry, type Runtime, type Started, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { startRawTarget } from "./helpers/raw-target.ts";
import { openRawUplink } from "./helpers/raw-uplink.ts";
import { rawRequest, sessionHost, visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

const pairings: [entry: Runtime, client: Runtime][] = [
  ["bun", "bun"],
  ["deno", "deno"],
  ["bun", "deno"],
  ["deno", "bun"],
];

const target = await startRawTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterAll(async () => {
  await stopAll();
  target.stop();
});

/** Status code of a raw HTTP answer. */
const statusOf = (answer: string) => Number(answer.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);

describe.each(pairings)("entry on %s, client on %s", (entryRuntime, clientRuntime) => {
  const session = `hostile-${entryRuntime}-${clientRuntime}`;
  let entry: Entry;
  let client: Started;
  const host = () => sessionHost(session, entry.port);
  /** The client never lost or reopened an uplink. */
  const uplinksUntouched = () => {
    expect(client.output()).not.toContain("uplink lost");
    expect(entry.output()).not.toContain("uplink protocol error");
  };

  beforeAll(async () => {
    entry = await startEntry(entryRuntime, { REQUEST_TIMEOUT_MS: "4000", MAX_STREAMS_PER_SESSION: "5" });
    // One connection to the target: a request whose framing lies poisons the next one on it.
    client = await startClient(clientRuntime, entry, session, targetUrl, ["--max-conns", "1", "--uplinks", "1"]);
  });

  test("a GET's Content-Length and body never reach the target: no visitor bytes read as a request", async () => {
    const smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n";
    for (const method of ["GET", "HEAD"]) {
      const answer = await rawRequest(entry.port, [
        `${method} /first-${session} HTTP/1.1\r\nHost: ${host()}\r\nAccept-Encoding: gzip, br\r\nContent-Length: ${smuggled.length}\r\nConnection: close\r\n\r\n${smuggled}`,
      ]);
      expect(statusOf(answer)).toBe(200);
    }
    // The next visitors, on the same (only) target connection, get their own answers.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => visit(entry.port, session, `/next-${round}-${i}`).then((r) => r.text())));
      answers.forEach((body, i) => expect(body).toBe(`/next-${round}-${i}`));
    }
    const first = target.seen.filter((r) => r.target === `/first-${session}`);
    expect(first.length).toBe(2);
    for (const r of first) expect(r.headers.find(([n]) => n === "content-length")).toBeUndefined();
    expect(target.seen.some((r) => r.target === "/admin")).toBe(false);
  });

  test("a target's chunked answer with a stale Content-Length arrives whole, not cut to the length", async () => {
    const res = await visit(entry.port, session, "/chunked-and-length");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).not.toBe("10");
    expect((await res.text()).length).toBe(100_000);
    uplinksUntouched();
  });

  test("a body's framing is exactly what is sent: POST with Content-Length, and chunked", async () => {
    const res = await visit(entry.port, session, `/post-cl-${session}`, { method: "POST", body: "hello" });
    expect(await res.text()).toBe(`/post-cl-${session}`);
    const chunked = await rawRequest(entry.port, [
      `POST /post-chunked-${session} HTTP/1.1\r\nHost: ${host()}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    ]);
    expect(statusOf(chunked)).toBe(200);
    for (const path of [`/post-cl-${session}`, `/post-chunked-${session}`]) {
      expect(target.seen.find((r) => r.target === path)?.body).toBe("hello");
    }
  });

  test("a header byte the tunnel cannot carry (DEL) is refused at the entry with 400 and costs nothing else", async () => {
    const slow = visit(entry.port, session, "/slow");
    await Bun.sleep(100);
    for (const value of ["a\x7fb", "\x7f"]) {
      const answer = await rawRequest(entry.port, [`GET /del HTTP/1.1\r\nHost: ${host()}\r\nX-Bad: ${value}\r\nConnection: close\r\n\r\n`]);
      expect(statusOf(answer)).toBe(400);
    }
    expect(await (await slow).text()).toBe("/slow");
    expect(target.seen.some((r) => r.target === "/del")).toBe(false);
    uplinksUntouched();
  });

  test("a target's headers in raw UTF-8 reach the visitor byte for byte", async () => {
    const answer = await rawRequest(entry.port, [`GET /utf8-header HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
    expect(statusOf(answer)).toBe(200);
    expect(answer).toContain(`x-name: ${Buffer.from("café ☃").toString("latin1")}`);
    expect(answer).toContain("x-fine: yes");
    uplinksUntouched();
  });

  test("a target's header with a control character never crosses; the uplink lives", async () => {
    const answer = await rawRequest(entry.port, [`GET /control-header HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
    // Left out by the client, or the whole answer refused by the client runtime's HTTP parser (502).
    expect([200, 502]).toContain(statusOf(answer));
    expect(answer).not.toContain("x-control");
    expect(await (await visit(entry.port, session, "/after-control")).text()).toBe("/after-control");
    uplinksUntouched();
  });

  test("a target's WebSocket refusal with a UTF-8 header reaches the visitor; the uplink lives", async () => {
    const answer = await rawRequest(entry.port, [
      `GET /ws-refuse HTTP/1.1\r\nHost: ${host()}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ], 0, undefined, /\r\n\r\nno/);
    expect(statusOf(answer)).toBe(403);
    expect(answer).toContain(`x-reason: ${Buffer.from("refusé ☃").toString("latin1")}`);
    expect(await (await visit(entry.port, session, "/after-refusal")).text()).toBe("/after-refusal");
    uplinksUntouched();
  });

  test("oversized heads get 431 and leave no stream behind (MAX_STREAMS_PER_SESSION=5)", async () => {
    for (let i = 0; i < 8; i++) {
      const answer = await rawRequest(entry.port, [
        `GET /big HTTP/1.1\r\nHost: ${host()}\r\n${Array.from({ length: 4 }, (_, j) => `X-Big-${j}: ${"\\\"".repeat(3000)}\r\n`).join("")}Connection: close\r\n\r\n`,
      ]);
      expect(statusOf(answer)).toBe(431);
    }
    expect((await visit(entry.port, session, "/after-big")).status).toBe(200);
  });

  test("Host must be a name with an optional numeric port: anything else is 400 and reaches no target", async () => {
    for (const bad of [`${host()}@evil.com`, `${host()}/evil.com`, `${session}.localhost:x evil.com`, `${session}.localhost:"><script>`]) {
      const answer = await rawRequest(entry.port, [`GET /host-trick HTTP/1.1\r\nHost: ${bad}\r\nConnection: close\r\n\r\n`]);
      expect(statusOf(answer)).toBe(400);
    }
    expect(target.seen.some((r) => r.target === "/host-trick")).toBe(false);
    const res = await visit(entry.port, session, `/host-ok-${session}`);
    expect(res.status).toBe(200);
    const seen = target.seen.find((r) => r.target === `/host-ok-${session}`)!;
    expect(seen.headers.find(([n]) => n === "x-forwarded-host")?.[1]).toBe(host());
  });

  test("a lowercase get or head never carries a body to the target", async () => {
    for (const method of ["get", "Get", "head"]) {
      const answer = await rawRequest(entry.port, [
        `${method} /lower-${session} HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 27\r\nConnection: close\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n`,
      ], 0, undefined, /\r\n\r\n/);
      expect([0, 200, 400]).toContain(statusOf(answer));
    }
    for (const r of target.seen.filter((r) => r.target === `/lower-${session}`)) {
      expect(r.headers.find(([n]) => n === "content-length")).toBeUndefined();
      expect(r.body).toBe("");
    }
    expect(target.seen.some((r) => r.target === "/smuggled")).toBe(false);
  });

  test("CONNECT, TRACE and TRACK get 405; a Host port past 65535 and an absolute-form target naming another host get 400", async () => {
    for (const method of ["TRACE", "TRACK", "trace"]) {
      const answer = await rawRequest(entry.port, [`${method} /t HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
      expect([0, 400, 405]).toContain(statusOf(answer)); // Bun closes on a lowercase method
      expect(target.seen.some((r) => r.method.toUpperCase().startsWith("TRAC"))).toBe(false);
    }
    const port = await rawRequest(entry.port, [`GET / HTTP/1.1\r\nHost: ${session}.localhost:99999\r\nConnection: close\r\n\r\n`]);
    expect(statusOf(port)).toBe(400);
    // Deno's request URL keeps the target's authority: refused. Bun's is built from Host alone, so
    // there the request is the session's, as its Host says.
    const absolute = await rawRequest(entry.port, [`GET http://evil.example/x HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
    expect(statusOf(absolute)).toBe(entryRuntime === "deno" ? 400 : 200);
  });

  test("a request body that stops arriving is answered 408 and frees its stream", async () => {
    const held = Array.from({ length: 5 }, () =>
      rawRequest(entry.port, [`POST /stalled HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 100000\r\n\r\n`], 0, undefined, /\r\n\r\n/)
    );
    const answers = await Promise.all(held);
    for (const answer of answers) expect(statusOf(answer)).toBe(408);
    expect((await visit(entry.port, session, "/after-stalled")).status).toBe(200);
  }, 20_000);

  test("Forwarded and X-Real-IP from visitors never reach the target", async () => {
    await visit(entry.port, session, `/forwarded-${session}`, { headers: { forwarded: "for=6.6.6.6", "x-real-ip": "6.6.6.6" } });
    const seen = target.seen.find((r) => r.target === `/forwarded-${session}`)!;
    const names = seen.headers.map(([n]) => n);
    expect(names).not.toContain("forwarded");
    expect(names).not.toContain("x-real-ip");
    expect(seen.headers.find(([n]) => n === "x-forwarded-for")?.[1]).toBe("127.0.0.1");
  });

  test("a target's Set-Cookie cannot reach beyond its session's host", async () => {
    const res = await visit(entry.port, session, "/cookie-domain");
    expect(res.headers.getSetCookie()).toEqual([
      "wide=1; Path=/",
      "wide2=1; Path=/",
      `own=1; Domain=${session}.localhost; Path=/`,
      "plain=1; Path=/",
    ]);
  });
});

describe.each(["bun", "deno"] as Runtime[])("entry on %s", (entryRuntime) => {
  test("a 502 tells the visitor no address; the client's log has the detail", async () => {
    const entry = await startEntry(entryRuntime);
    const client = await startClient("bun", entry, "down-hostile", "http://127.0.0.1:9");
    const res = await visit(entry.port, "down-hostile", "/");
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(body).toContain("could not be reached");
    expect(body).not.toContain("127.0.0.1");
    expect(body).not.toContain("ECONNREFUSED");
    await eventually(() => (client.output().includes("target unreachable") ? true : undefined));
    expect(client.output()).toContain("127.0.0.1:9");
  });

  test("an uplink that floods pings and never reads is cut off; the entry's memory stays bounded", async () => {
    const entry = await startEntry(entryRuntime);
    const uplink = await openRawUplink(entry.port);
    uplink.send(encodeFrame(FrameKind.Hello, 0, 0, new TextEncoder().encode(JSON.stringify({ session: "pinger", token: "t", window: 262144 }))));
    await eventually(() => (/uplink connected session=pinger/.test(entry.output()) ? true : undefined), 10_000, 20);
    uplink.pause();
    const ping = encodeFrame(FrameKind.Ping, 0, 0, new Uint8Array(8));
    const batch = new Uint8Array(ping.byteLength * 10_000);
    for (let i = 0; i < 10_000; i++) batch.set(ping, i * ping.byteLength);
    const rssBefore = Number((await (await fetch(`http://127.0.0.1:${entry.port}/metrics`)).text()).match(/process_resident_memory_bytes (\d+)/)?.[1] ?? 0);
    // 2 million pings (40 MB of frames) unless the entry cuts the uplink first.
    for (let i = 0; i < 200 && !uplink.closed(); i++) {
      if (!uplink.send(batch)) await new Promise((r) => uplink.socket.once("drain", r).once("close", r));
    }
    await eventually(() => (entry.output().match(/uplink disconnected[^\n]*session=pinger/) ? true : undefined), 20_000, 100);
    // Cut as a ping flood (more than 50 a second), or by the bound on answers it does not read.
    expect(entry.output()).toMatch(/Ping flood|uplink not reading, closed/);
    const rssAfter = Number((await (await fetch(`http://127.0.0.1:${entry.port}/metrics`)).text()).match(/process_resident_memory_bytes (\d+)/)?.[1] ?? 0);
    expect(rssAfter - rssBefore).toBeLessThan(120 * 1024 * 1024);
    uplink.socket.destroy();
  }, 60_000);

  test("a message before hello larger than a hello closes the uplink at once (4002)", async () => {
    const entry = await startEntry(entryRuntime);
    const uplink = await openRawUplink(entry.port);
    uplink.send(new Uint8Array(100 * 1024));
    await eventually(() => uplink.closeCode(), 5000);
    expect(uplink.closeCode()).toBe(4002);
    expect(entry.output()).toContain("Hello too large");
  });
});

describe.each(["bun", "deno"] as Runtime[])("what held up, kept (entry on %s)", (entryRuntime) => {
  let entry: Entry;
  const session = `held-${entryRuntime}`;
  const host = () => sessionHost(session, entry.port);

  beforeAll(async () => {
    entry = await startEntry(entryRuntime, { DASHBOARD_TOKEN: "dash-secret" });
    await startClient("bun", entry, session, `${targetUrl}/base/`);
  });

  test("conflicting or doubled lengths, obs-fold and bare LF are refused at the entry; none reaches the target", async () => {
    const attacks = [
      `POST /held-cl-te HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /held-cl-cl HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
      `GET /held-fold HTTP/1.1\r\nHost: ${host()}\r\nX-A: one\r\n two\r\n\r\n`,
    ];
    for (const attack of attacks) {
      const answer = await rawRequest(entry.port, [attack]);
      expect([0, 400]).toContain(statusOf(answer));
    }
    expect(target.seen.some((r) => r.target.startsWith("/base/held-"))).toBe(false);
    // Bare LF line ends: Bun refuses them; Deno's parser reads them as line ends (RFC 9112 §2.2 allows
    // it). Either way the entry re-frames what it parsed: exactly one request, never a second one.
    const lf = await rawRequest(entry.port, [`GET /held-lf HTTP/1.1\nHost: ${host()}\nX-A: one\nConnection: close\n\nGET /held-lf-2 HTTP/1.1\nHost: ${host()}\n\n`]);
    expect([0, 200, 400, 505]).toContain(statusOf(lf));
    expect(target.seen.some((r) => r.target === "/base/held-lf-2")).toBe(false);
  });

  test("absolute-form requests on a session host go to the session, never the control plane", async () => {
    for (const form of [`http://${host()}/metrics`, `http://127.0.0.1:${entry.port}/metrics`]) {
      const seen = target.seen.length;
      const answer = await rawRequest(entry.port, [`GET ${form} HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
      expect(answer).not.toContain("tunnel2_requests_total");
      // Under DASHBOARD_TOKEN a control-plane answer would be a 401: the session's target answers
      // instead, or (Deno, an absolute form naming another host) the entry refuses it with 400.
      const status = statusOf(answer);
      if (form.includes(host())) expect(status).toBe(200);
      else expect([200, 400]).toContain(status);
      if (status === 200) expect(target.seen.slice(seen).map((r) => r.target)).toEqual(["/base/metrics"]);
    }
  });

  test("DASHBOARD_TOKEN holds against path tricks, HEAD and OPTIONS; no path escapes /dashboard/", async () => {
    for (const path of ["/metrics", "//metrics", "/%6detrics", "/x/../metrics", "/api/sessions", "/api/live"]) {
      const answer = await rawRequest(entry.port, [`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`]);
      expect([401, 404]).toContain(statusOf(answer));
      expect(answer).not.toContain("tunnel2_");
    }
    for (const method of ["HEAD", "OPTIONS"]) {
      const answer = await rawRequest(entry.port, [`${method} /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`]);
      expect([401, 404]).toContain(statusOf(answer));
    }
    const auth = `Authorization: Bearer dash-secret\r\n`;
    for (const path of ["/dashboard/..%2f..%2f..%2fpackage.json", "/dashboard/%2e%2e/entry-app.ts", "/dashboard/../../package.json"]) {
      const answer = await rawRequest(entry.port, [`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`]);
      expect(answer).not.toContain('"name": "tunnel2"');
      expect(answer).not.toContain("createEntryApp");
    }
  });

  test("request paths cannot climb out of the target's base path", async () => {
    for (const path of ["/../climb-secret", "/%2e%2e/climb-secret", "/a/%2E%2E/../climb-secret", "/\\..\\..\\climb-secret", "/a\\%2e%2e\\..\\climb-secret"]) {
      const answer = await rawRequest(entry.port, [`GET ${path} HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`]);
      expect(statusOf(answer)).toBe(200);
      expect(target.seen.at(-1)?.target).toBe("/base/climb-secret");
    }
  });
});
