/**
 * End to end: a real target, a real entry and a real client process on
 * loopback, for each pairing of runtimes. Each behaviour the core promises
 * is tried as a visitor would, through the entry's public port.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { eventDelays, patternHash, readHashed, startTarget } from "./helpers/target-server.ts";
import { type Entry, peakRssMiB, type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { curl, rawRequest, sessionHost, visit } from "./helpers/visitor.ts";
import { waitFor } from "./helpers/wait.ts";

const pairings: [entry: Runtime, client: Runtime][] = [
  ["bun", "bun"],
  ["deno", "deno"],
  ["deno", "bun"],
  ["bun", "deno"],
];

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterAll(async () => {
  await stopAll();
  target.stop();
});

describe.each(pairings)("entry on %s, client on %s", (entryRuntime, clientRuntime) => {
  const session = `app-${entryRuntime}-${clientRuntime}`;
  let entry: Entry;
  let clientPid = 0;

  beforeAll(async () => {
    entry = await startEntry(entryRuntime, { REQUEST_TIMEOUT_MS: "1500" });
    const client = await startClient(clientRuntime, entry, session, targetUrl);
    clientPid = client.proc.pid;
    expect(client.url).toBe(`http://${session}.localhost:${entry.port}`);
  });

  test("every method, raw path and query reach the target unchanged", async () => {
    for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"]) {
      const res = await curl(["-X", method, "-H", `Host: ${sessionHost(session, entry.port)}`, "--path-as-is", `http://127.0.0.1:${entry.port}/echo?q=%20x&u=%C3%BC&plus=a+b&slash=%2F`]);
      expect(res.head).toStartWith("HTTP/1.1 200");
      const echo = JSON.parse(new TextDecoder().decode(res.body));
      expect(echo.method).toBe(method);
      expect(echo.target).toBe("/echo?q=%20x&u=%C3%BC&plus=a+b&slash=%2F");
    }
    // Encoded slashes and raw UTF-8 bytes in the path arrive as the target would see them directly.
    const raw = "/echo/a%2Fb/\u00fc";
    const direct = await curl(["--path-as-is", `${targetUrl}${raw}`]);
    const tunneled = await curl(["--path-as-is", "-H", `Host: ${sessionHost(session, entry.port)}`, `http://127.0.0.1:${entry.port}${raw}`]);
    expect(tunneled.body.byteLength).toBeGreaterThan(0);
    expect(new TextDecoder().decode(tunneled.body)).toBe(new TextDecoder().decode(direct.body));
  });

  test("headers: end-to-end kept, hop-by-hop dropped, X-Forwarded-* added", async () => {
    const res = await curl([
      "-H", `Host: ${sessionHost(session, entry.port)}`,
      "-H", "X-Custom: one",
      "-H", "Cookie: a=1; b=2",
      "-H", "Connection: keep-alive, X-Drop-Me",
      "-H", "X-Drop-Me: secret",
      "-H", "Keep-Alive: timeout=5",
      "-H", "TE: trailers",
      "-H", "Proxy-Authorization: Basic eDp5",
      `http://127.0.0.1:${entry.port}/echo`,
    ]);
    const seen = new Map<string, string>(JSON.parse(new TextDecoder().decode(res.body)).headers);
    expect(seen.get("x-custom")).toBe("one");
    expect(seen.get("cookie")).toBe("a=1; b=2");
    expect(seen.has("x-drop-me")).toBe(false);
    expect(seen.has("keep-alive")).toBe(false);
    expect(seen.has("te")).toBe(false);
    expect(seen.has("proxy-authorization")).toBe(false);
    expect(seen.get("x-forwarded-for")).toBe("127.0.0.1");
    expect(seen.get("x-forwarded-proto")).toBe("http");
    expect(seen.get("x-forwarded-host")).toBe(sessionHost(session, entry.port));
  });

  test("each Set-Cookie stays separate; hop-by-hop response headers are dropped", async () => {
    const res = await curl(["-H", `Host: ${sessionHost(session, entry.port)}`, `http://127.0.0.1:${entry.port}/cookies`]);
    const cookies = res.head.split("\r\n").filter((l) => l.toLowerCase().startsWith("set-cookie:"));
    expect(cookies).toEqual(["set-cookie: a=1; Path=/; HttpOnly", "set-cookie: b=2, with comma; Path=/"].map((c) =>
      cookies.find((l) => l.toLowerCase() === c.toLowerCase()) ?? c
    ));
    expect(cookies.length).toBe(2);
    expect(res.head.toLowerCase()).not.toContain("x-conn-drop");
    expect(res.head.toLowerCase()).not.toContain("keep-alive: timeout");
    expect(new TextDecoder().decode(res.body)).toBe("cookies");
  });

  test("HEAD, 204 and 304 carry no body; redirects pass through unfollowed", async () => {
    const head = await visit(entry.port, session, "/echo", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    for (const code of [204, 304]) {
      const res = await curl(["-H", `Host: ${sessionHost(session, entry.port)}`, `http://127.0.0.1:${entry.port}/status?code=${code}`]);
      expect(res.head).toStartWith(`HTTP/1.1 ${code}`);
      expect(res.body.byteLength).toBe(0);
    }
    const redirect = await visit(entry.port, session, "/redirect");
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("/elsewhere");
  });

  test("compressed bodies arrive byte for byte, with consistent Content-Encoding and Content-Length", async () => {
    const direct = await curl([`${targetUrl}/gzip`, "-H", "Accept-Encoding: gzip"]);
    const res = await curl(["-H", `Host: ${sessionHost(session, entry.port)}`, "-H", "Accept-Encoding: gzip, br", `http://127.0.0.1:${entry.port}/gzip`]);
    expect(res.head.toLowerCase()).toContain("content-encoding: gzip");
    expect(Buffer.from(res.body).equals(Buffer.from(direct.body))).toBe(true);
    const length = res.head.match(/content-length: (\d+)/i);
    if (length) expect(Number(length[1])).toBe(res.body.byteLength);
    expect(Bun.gunzipSync(res.body).byteLength).toBe(24000);
  });

  test("a target that compresses unasked gives a body consistent with its headers", async () => {
    const res = await curl(["-H", `Host: ${sessionHost(session, entry.port)}`, `http://127.0.0.1:${entry.port}/gzip`]);
    const head = res.head.toLowerCase();
    const plain = head.includes("content-encoding: gzip") ? Bun.gunzipSync(res.body) : res.body;
    expect(plain.byteLength).toBe(24000);
    const length = res.head.match(/content-length: (\d+)/i);
    if (length) expect(Number(length[1])).toBe(res.body.byteLength);
  });

  test("a 64 MiB upload hashes equal at the target", async () => {
    const size = 64 * 1024 * 1024;
    const body = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) body[i] = (i / 4096) % 256;
    const res = await visit(entry.port, session, "/upload", { method: "POST", body });
    const answer = await res.json();
    expect(answer.bytes).toBe(size);
    expect(answer.hash).toBe(createHash("sha256").update(body).digest("hex"));
  }, 60_000);

  // The heavy transfer runs on one pairing; the others carry a smaller one through the same path.
  const heavy = entryRuntime === "bun" && clientRuntime === "bun";
  const downloadSize = heavy ? 1024 * 1024 * 1024 : 256 * 1024 * 1024;
  test(`a ${heavy ? "1 GiB" : "256 MiB"} download hashes equal and never sits whole in memory`, async () => {
    const res = await visit(entry.port, session, `/download?bytes=${downloadSize}`);
    expect(await readHashed(res.body!)).toEqual({ bytes: downloadSize, hash: patternHash(downloadSize, 64 * 1024) });
    // Bounded by windows and buffers, not by the body: far below its size.
    const bound = heavy ? 400 : 250; // held whole, 256 MiB would pass it
    console.log(`entry on ${entryRuntime}, client on ${clientRuntime}: peak RSS entry ${(await peakRssMiB(entry.proc.pid)).toFixed(0)} MiB, client ${(await peakRssMiB(clientPid)).toFixed(0)} MiB`);
    expect(await peakRssMiB(entry.proc.pid)).toBeLessThan(bound);
    expect(await peakRssMiB(clientPid)).toBeLessThan(bound);
  }, 120_000);

  test("a visitor who stops reading stalls only its own stream; no byte is lost", async () => {
    const size = 64 * 1024 * 1024;
    const res = await visit(entry.port, session, `/download?bytes=${size}`);
    const reader = res.body!.getReader();
    const hash = createHash("sha256");
    let bytes = 0;
    const first = await reader.read();
    hash.update(first.value!);
    bytes += first.value!.byteLength;
    // The visitor now stalls; the entry holds at most a window or so of this stream.
    await Bun.sleep(300);
    const rssDuringStall = await peakRssMiB(entry.proc.pid);
    const started = Date.now();
    const small = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      visit(entry.port, session, `/echo?small=${i}`).then((r) => r.status)
    ));
    expect(small.every((s) => s === 200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
    await Bun.sleep(300);
    expect(await peakRssMiB(entry.proc.pid)).toBeLessThan(rssDuringStall + 50);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      bytes += value.byteLength;
    }
    expect(bytes).toBe(size);
    expect(hash.digest("hex")).toBe(patternHash(size, 64 * 1024));
  }, 60_000);

  test("server-sent events reach the visitor as they are written", async () => {
    const res = await visit(entry.port, session, "/sse?count=4&every=400");
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const arrivals = await eventDelays(res.body!);
    expect(arrivals.length).toBe(4);
    // Each event arrives long before the next is written (400 ms apart).
    for (const delay of arrivals) expect(delay).toBeLessThan(300);
  });

  test("the target sees the first chunk of a slow upload before the upload ends", async () => {
    const id = `slow-upload-${session}`;
    const answer = await rawRequest(entry.port, [
      `POST /upload HTTP/1.1\r\nHost: ${sessionHost(session, entry.port)}\r\nX-Test-Id: ${id}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nfirst\r\n`,
      "6\r\nsecond\r\n0\r\n\r\n",
    ], 0, async () => {
      await waitFor(() => (target.state.events.get(id) ?? []).includes("first-chunk"), 5000);
    });
    expect(target.state.events.get(id)).toEqual(["first-chunk", "upload-done"]);
    expect(answer).toContain('"bytes":11');
  });

  test("an unknown session gets 502 at once, naming the session", async () => {
    const started = Date.now();
    const res = await visit(entry.port, "nobody-here", "/");
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('"nobody-here"');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test("no response head within REQUEST_TIMEOUT_MS gives 504", async () => {
    const started = Date.now();
    const res = await visit(entry.port, session, "/slow-head?ms=4000");
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3500);
  });

  test("a visitor who disconnects aborts the target's request within a second", async () => {
    const id = `hang-${session}`;
    const abort = new AbortController();
    const pending = visit(entry.port, session, "/hang", { signal: abort.signal, headers: { "x-test-id": id } }).catch(() => {});
    await waitFor(() => (target.state.events.get(id) ?? []).includes("started"), 5000);
    abort.abort();
    await pending;
    const took = await waitFor(() => (target.state.events.get(id) ?? []).includes("aborted"), 1000);
    expect(took).toBeLessThan(1000);
  });

  test("a target that aborts mid-body ends the visitor's response as an error", async () => {
    const res = await curl(["-H", `Host: ${sessionHost(session, entry.port)}`, `http://127.0.0.1:${entry.port}/abort-mid-body`]);
    expect(res.head).toStartWith("HTTP/1.1 200");
    expect(res.code).not.toBe(0); // curl: transfer closed / partial file, not a clean end
  });

  test("many concurrent requests all complete", async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) =>
      visit(entry.port, session, `/echo?i=${i}`).then(async (r) => (await r.json()).target)
    ));
    results.forEach((t, i) => expect(t).toBe(`/echo?i=${i}`));
  });
});

describe("target down", () => {
  test.each(["bun", "deno"] as Runtime[])("client on %s: unreachable target gives 502", async (runtime) => {
    const entry = await startEntry("bun");
    await startClient(runtime, entry, "down", "http://127.0.0.1:9");
    const res = await visit(entry.port, "down", "/");
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("could not be reached");
  });

  test("client on deno: a target on a port fetch() refuses (6666) is still served", async () => {
    let server: ReturnType<typeof Bun.serve>;
    try {
      server = Bun.serve({ port: 6666, hostname: "127.0.0.1", fetch: () => new Response("served on 6666") });
    } catch {
      console.warn("SKIPPED: port 6666 is in use");
      return;
    }
    try {
      const entry = await startEntry("bun");
      await startClient("deno", entry, "badport", "http://127.0.0.1:6666");
      for (let i = 0; i < 2; i++) {
        const res = await visit(entry.port, "badport", "/");
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("served on 6666");
      }
    } finally {
      server.stop(true);
    }
  });
});

describe("large uploads", () => {
  test("a 200 MiB upload is not refused (Bun's own 128 MiB default is lifted)", async () => {
    const entry = await startEntry("bun");
    await startClient("bun", entry, "big-upload", targetUrl);
    const size = 200 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024).fill(3);
    let sent = 0;
    const res = await visit(entry.port, "big-upload", "/upload", {
      method: "POST",
      body: new ReadableStream({
        pull(c) {
          if (sent >= size) return c.close();
          c.enqueue(chunk);
          sent += chunk.byteLength;
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(200);
    expect((await res.json()).bytes).toBe(size);
  }, 60_000);
});
