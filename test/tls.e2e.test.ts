/**
 * End to end: an entry that serves TLS itself (--tls-cert/--tls-key), with a
 * throwaway CA made by openssl, for each pairing of runtimes: HTTPS visitors
 * (HTTP/1.1 and HTTP/2), uplinks over wss, visitors' WebSockets over wss,
 * plain HTTP refused; unusable certificate files stop the entry at start.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTarget } from "./helpers/target-server.ts";
import { startWebSocketTarget } from "./helpers/websocket-target.ts";
import { type Entry, runToEnd, type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { curl, visit } from "./helpers/visitor.ts";
import { makeCertificates, type TestCertificates, trustEnv } from "./helpers/test-ca.ts";

/** Session hosts are `<session>.tls.localhost`: OpenSSL (curl) does not match `*.localhost`, a wildcard over one label. */
const DOMAIN = "tls.localhost";

let certs: TestCertificates;

/** How each runtime's client is told to trust the test CA. */
const trust = (runtime: Runtime): Record<string, string> => trustEnv(runtime, certs.ca);

const startTlsEntry = (runtime: Runtime): Promise<Entry> =>
  startEntry(runtime, { TUNNEL_DOMAIN: DOMAIN }, { args: ["--tls-cert", certs.cert, "--tls-key", certs.key] });

const target = startTarget();
const wsTarget = startWebSocketTarget();

/** A CA and a server certificate it signed, for 127.0.0.1, localhost and *.tls.localhost. */
beforeAll(() => {
  certs = makeCertificates(["IP:127.0.0.1", "DNS:localhost", `DNS:*.${DOMAIN}`]);
});
afterAll(async () => {
  await stopAll();
  target.stop();
  wsTarget.stop();
  certs?.remove();
});

const pairings: [entry: Runtime, client: Runtime][] = [
  ["bun", "bun"],
  ["deno", "deno"],
  ["bun", "deno"],
  ["deno", "bun"],
];

describe.each(pairings)("TLS entry on %s, client on %s", (entryRuntime, clientRuntime) => {
  const web = `web-${entryRuntime}-${clientRuntime}`;
  const sockets = `ws-${entryRuntime}-${clientRuntime}`;
  let entry: Entry;

  beforeAll(async () => {
    entry = await startTlsEntry(entryRuntime);
    const client = await startClient(clientRuntime, entry, web, `http://127.0.0.1:${target.port}`, [], trust(clientRuntime));
    await startClient(clientRuntime, entry, sockets, `http://127.0.0.1:${wsTarget.port}`, [], trust(clientRuntime));
    expect(entry.scheme).toBe("https");
    expect(client.url).toBe(`https://${web}.${DOMAIN}:${entry.port}`);
  });

  for (const version of ["--http1.1", "--http2"]) {
    test(`an HTTPS visitor (${version}) gets the target's answer`, async () => {
      const host = `${web}.${DOMAIN}`;
      const res = await curl([
        version, "--cacert", certs.ca, "--resolve", `${host}:${entry.port}:127.0.0.1`,
        "--data-binary", "hello over tls", `https://${host}:${entry.port}/echo?x=1`,
      ]);
      expect(res.stderr).toBe("");
      expect(res.head).toMatch(/^HTTP\/(1\.1|2) 200/);
      const echo = JSON.parse(new TextDecoder().decode(res.body));
      expect(echo.method).toBe("POST");
      expect(echo.target).toBe("/echo?x=1");
      expect(echo.bodyLength).toBe("hello over tls".length);
      const seen = new Map<string, string>(echo.headers);
      expect(seen.get("x-forwarded-proto")).toBe("https");
      expect(seen.get("x-forwarded-host")).toBe(`${host}:${entry.port}`);
    });
  }

  test("a visitor's WebSocket over wss echoes text and binary", async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${entry.port}/echo`, {
      headers: { host: `${sockets}.${DOMAIN}:${entry.port}` },
      tls: { ca: certs.caPem },
    } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    const messages: (string | Uint8Array)[] = [];
    const got = new Promise<void>((resolve, reject) => {
      ws.onmessage = (event) => {
        messages.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
        if (messages.length === 2) resolve();
      };
      ws.onerror = (event) => reject(new Error(`WebSocket failed: ${(event as ErrorEvent).message}`));
    });
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onclose = (event) => reject(new Error(`WebSocket closed before opening (${event.code})`));
    });
    ws.send("text over wss");
    ws.send(new Uint8Array([1, 2, 3, 250]));
    await got;
    expect(messages[0]).toBe("text over wss");
    expect([...(messages[1] as Uint8Array)]).toEqual([1, 2, 3, 250]);
    ws.close(1000);
  });

  test("plain HTTP to the TLS port gets no HTTP answer; the entry keeps serving HTTPS", async () => {
    const plain = await curl(["-m", "5", "-H", `Host: ${web}.${DOMAIN}:${entry.port}`, `http://127.0.0.1:${entry.port}/echo`]);
    expect(plain.code).not.toBe(0);
    expect(plain.head).not.toMatch(/^HTTP\//);
    const ok = await curl(["--cacert", certs.ca, `https://127.0.0.1:${entry.port}/healthz`]);
    expect(new TextDecoder().decode(ok.body)).toBe("ok");
  });
});

describe.each(["bun", "deno"] as Runtime[])("TLS, client on %s", (runtime) => {
  test("a client that does not trust the entry's certificate says why and what to do, once, and exits 1", async () => {
    const entry = await startTlsEntry(runtime);
    // No NODE_EXTRA_CA_CERTS / DENO_CERT: only the system's trust store.
    const client = await runToEnd(runtime, "src/client.ts", [
      "--server", `https://127.0.0.1:${entry.port}`, "--session", "untrusted", "--token", "t", "--to", `http://127.0.0.1:${target.port}`,
    ], { TUNNEL_INSPECT: "off" });
    expect(client.code).toBe(1);
    expect(client.stderr).toMatch(new RegExp(`The entry https://127\\.0\\.0\\.1:${entry.port} has a TLS certificate this machine does not trust \\(.*(certificate|UnknownIssuer).*\\)`, "i"));
    expect(client.stderr).toContain(runtime === "bun" ? "NODE_EXTRA_CA_CERTS=ca.pem" : "DENO_CERT=ca.pem");
    expect(client.stderr.match(/does not trust/g)?.length).toBe(1);
    expect(client.stdout).not.toContain("Forwarding");
  }, 20_000);

  test("the entry exits 2 with a clear message on a missing or non-PEM --tls-cert", async () => {
    const missing = await runToEnd(runtime, "src/server.ts", ["--tls-cert", join(certs.dir, "nope.pem"), "--tls-key", certs.key], { PORT: "0" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`Cannot read --tls-cert file "${join(certs.dir, "nope.pem")}"`);
    const notPem = join(certs.dir, "not-pem.txt");
    writeFileSync(notPem, "this is not a certificate\n");
    const wrong = await runToEnd(runtime, "src/server.ts", ["--tls-cert", notPem, "--tls-key", certs.key], { PORT: "0" });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("is not PEM");
    const alone = await runToEnd(runtime, "src/server.ts", ["--tls-cert", certs.cert], { PORT: "0" });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("TLS needs both --tls-cert and --tls-key");
  });
});

describe.each(["bun", "deno"] as const)("an https target, client on %s", (clientRuntime) => {
  let entry: Entry;
  let tlsTarget: ReturnType<typeof Bun.serve>;

  beforeAll(async () => {
    entry = await startEntry("bun");
    tlsTarget = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: Bun.file(certs.cert), key: Bun.file(certs.key) },
      fetch: async (request) => new Response(`secure ${request.method} ${new URL(request.url).pathname} ${(await request.text()).length}`),
    });
  });
  afterAll(() => tlsTarget?.stop(true));

  test("is reached over TLS, its certificate checked against the trusted CA, the connection kept", async () => {
    const session = `tls-target-${clientRuntime}`;
    await startClient(clientRuntime, entry, session, `https://localhost:${tlsTarget.port}`, [], trust(clientRuntime));
    for (let i = 0; i < 3; i++) {
      const res = await visit(entry.port, session, `/path${i}`, { method: "POST", body: "x".repeat(100_000) });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`secure POST /path${i} 100000`);
    }
  });

  test("an untrusted certificate is a 502, and the client's log says why", async () => {
    const session = `tls-untrusted-${clientRuntime}`;
    const client = await startClient(clientRuntime, entry, session, `https://localhost:${tlsTarget.port}`);
    const res = await visit(entry.port, session, "/");
    expect(res.status).toBe(502);
    await res.text();
    await Bun.sleep(200);
    expect(client.output()).toMatch(/target unreachable.*(certificate|UnknownIssuer|self.signed|unable to verify)/i);
  });
});
