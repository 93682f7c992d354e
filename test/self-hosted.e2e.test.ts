/**
 * The self-hosted deployment (compose.yaml) with real processes instead of
 * containers: a redis-server; two entries with compose.yaml's environment
 * (addresses, ports and secrets substituted); and Caddy running
 * deploy/Caddyfile (domain, upstreams and certificate paths substituted, and
 * a global options block for test ports on loopback), with a wildcard
 * certificate from a throwaway CA. Clients and visitors reach the entries
 * only through Caddy, over TLS. Entries and clients on Bun, then on Deno.
 *
 * The domain is `localhost`: a Deno client resolves `localhost` but not
 * `*.localhost`, and the apex is where clients connect (Bun and curl map
 * `<session>.localhost` to loopback themselves). OpenSSL and BoringSSL do not
 * match `*.localhost` (a wildcard over one label), so the certificate names
 * each session host too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sessionToken } from "../src/entry/session-token.ts";
import { type Entry, type Runtime, spawnUntil, type Started, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { freePort, hasRedis, startRedis, type TestRedis } from "./helpers/redis-server.ts";
import { eventDelays, startTarget } from "./helpers/target-server.ts";
import { makeCertificates, type TestCertificates, trustEnv } from "./helpers/test-ca.ts";
import { curl } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";
import { startWebSocketTarget } from "./helpers/websocket-target.ts";

const ROOT = join(import.meta.dir, "..");
const hasCaddy = Bun.which("caddy") !== null;
if (!hasCaddy) console.warn("SKIPPED: caddy is not installed (apt-get install caddy); the self-hosted (Caddy) tests did not run");
if (!hasRedis) console.warn("SKIPPED: redis-server is not installed (apt-get install redis-server); the self-hosted (Caddy) tests did not run");

const DOMAIN = "localhost";
const SECRET = "self-hosted-test-secret";
const DASHBOARD_TOKEN = "self-hosted-dashboard-token";
const sessions = (runtime: Runtime) => ({ web: `web-${runtime}`, ws: `ws-${runtime}`, move: `move-${runtime}` });

/** Replaces every `from` in `text`; a `from` no longer there means the shipped file changed under the test. */
function substitute(text: string, file: string, replacements: [from: string, to: string][]): string {
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update test/self-hosted.e2e.test.ts`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** deploy/Caddyfile for this machine: loopback upstreams, the test certificate, test ports, no ACME and no redirects. */
function testCaddyfile(upstreams: [string, string], certs: TestCertificates, ports: { http: number; https: number }): string {
  const shipped = readFileSync(join(ROOT, "deploy", "Caddyfile"), "utf8");
  if (shipped.split("\n").map((l) => l.trim()).find((l) => l !== "" && !l.startsWith("#"))?.startsWith("{")) {
    throw new Error("deploy/Caddyfile has a global options block: merge the test's into it");
  }
  const global = [
    "{",
    "\tadmin off",
    "\tdefault_bind 127.0.0.1",
    `\thttp_port ${ports.http}`,
    `\thttps_port ${ports.https}`,
    "\tauto_https disable_redirects",
    "\tskip_install_trust",
    "}",
  ].join("\n");
  return `${global}\n${
    substitute(shipped, "deploy/Caddyfile", [
      ["entry-a:8080", upstreams[0]],
      ["entry-b:8080", upstreams[1]],
      ["tunnel.example.com", DOMAIN],
      ["/certs/fullchain.pem", certs.cert],
      ["/certs/privkey.pem", certs.key],
    ])
  }`;
}

/** compose.yaml's environment of `service`, for processes on this machine. */
function composeEnv(service: string, values: { port: number; peerPorts: Record<string, number>; redisUrl: string; publicPort: number }): Record<string, string> {
  const compose = Bun.YAML.parse(readFileSync(join(ROOT, "compose.yaml"), "utf8")) as {
    services: Record<string, { environment: Record<string, string> }>;
  };
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(compose.services[service].environment)) {
    env[name] = value
      .replace(/^\$\{TUNNEL_SECRET:\?.*\}$/, SECRET)
      .replace(/^\$\{DASHBOARD_TOKEN:\?.*\}$/, DASHBOARD_TOKEN)
      .replace(/^redis:\/\/redis:6379$/, values.redisUrl)
      .replace(/\b(entry-[ab]):8080\b/, (_, peer: string) => `127.0.0.1:${values.peerPorts[peer]}`)
      .replaceAll("tunnel.example.com", DOMAIN);
  }
  expect(env).toMatchObject({ PORT: "8080", TUNNEL_PUBLIC_PORT: "443", TUNNEL_PUBLIC_SCHEME: "https", TRUST_PROXY: "1" });
  const left = Object.entries(env).filter(([, v]) => /\$\{|example\.com|redis:6379|entry-[ab]:/.test(v));
  if (left.length > 0) throw new Error(`compose.yaml: not substituted for the test: ${JSON.stringify(left)}`);
  return { ...env, PORT: String(values.port), TUNNEL_PUBLIC_PORT: String(values.publicPort) };
}

/** One counter of an entry's /metrics (0 when absent). */
async function counter(entry: Entry, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${entry.port}/metrics`, { headers: { authorization: `Bearer ${DASHBOARD_TOKEN}` } })).text();
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

describe.skipIf(!hasCaddy || !hasRedis).each(["bun", "deno"] as Runtime[])("Caddy in front of two entries sharing sessions (entries and clients on %s)", (runtime) => {
  const names = sessions(runtime);
  let certs: TestCertificates;
  let target: ReturnType<typeof startTarget>;
  let wsTarget: ReturnType<typeof startWebSocketTarget>;
  let redis: TestRedis;
  let caddyDir = "";
  let caddy: Started;
  let https = 0;
  const entries: Record<"entry-a" | "entry-b", Entry> = {} as never;
  const server = () => `https://${DOMAIN}:${https}`;
  const connect = async (session: string, targetPort: number, args: string[] = []) =>
    await startClient(runtime, server(), session, `http://127.0.0.1:${targetPort}`, ["--token", await sessionToken(SECRET, session), ...args], trustEnv(runtime, certs.ca));
  /** A visitor's fetch through Caddy. */
  const visit = (session: string, path: string, init: RequestInit = {}) =>
    fetch(`https://${session}.${DOMAIN}:${https}${path}`, { ...init, tls: { ca: certs.caPem } } as RequestInit);

  beforeAll(async () => {
    certs = makeCertificates([`DNS:${DOMAIN}`, `DNS:*.${DOMAIN}`, ...Object.values(names).map((n) => `DNS:${n}.${DOMAIN}`)]);
    target = startTarget();
    wsTarget = startWebSocketTarget();
    redis = await startRedis();
    const ports = { "entry-a": await freePort(), "entry-b": await freePort() };
    const http = await freePort();
    https = await freePort();
    for (const name of ["entry-a", "entry-b"] as const) {
      const env = composeEnv(name, { port: ports[name], peerPorts: ports, redisUrl: redis.url, publicPort: https });
      entries[name] = await startEntry(runtime, env);
    }
    caddyDir = mkdtempSync(join(tmpdir(), "tunnel2-caddy-"));
    const caddyfile = join(caddyDir, "Caddyfile");
    writeFileSync(caddyfile, testCaddyfile([`127.0.0.1:${ports["entry-a"]}`, `127.0.0.1:${ports["entry-b"]}`], certs, { http, https }));
    caddy = await spawnUntil(
      ["caddy", "run", "--adapter", "caddyfile", "--config", caddyfile],
      { HOME: caddyDir, XDG_DATA_HOME: join(caddyDir, "data"), XDG_CONFIG_HOME: join(caddyDir, "config") },
      /serving initial configuration/,
    );
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    target?.stop();
    wsTarget?.stop();
    await redis?.stop();
    certs?.remove();
    if (caddyDir) rmSync(caddyDir, { recursive: true, force: true });
  });

  test("a client connected through Caddy over wss gets its https public URL", async () => {
    const client = await connect(names.web, target.port);
    expect(client.url).toBe(`https://${names.web}.${DOMAIN}:${https}`);
    expect(client.output()).not.toMatch(/ (WARN|ERROR) /);
  }, 30_000);

  test("20 visitors through Caddy reach the target, whichever entry Caddy picks; both entries take some", async () => {
    const before = await Promise.all(Object.values(entries).map(async (e) => ({
      requests: await counter(e, `tunnel2_requests_total{session="${names.web}",class="2xx"}`),
      received: await counter(e, `tunnel2_cluster_requests_total{way="received"}`),
    })));
    for (let i = 0; i < 20; i++) {
      const res = await visit(names.web, `/echo?i=${i}`);
      expect(res.status).toBe(200);
      expect((await res.json()).target).toBe(`/echo?i=${i}`);
    }
    // What Caddy sent each entry: its requests, less those another entry forwarded to it.
    const fromCaddy = await Promise.all(Object.values(entries).map(async (e, i) =>
      (await counter(e, `tunnel2_requests_total{session="${names.web}",class="2xx"}`)) - before[i].requests -
      ((await counter(e, `tunnel2_cluster_requests_total{way="received"}`)) - before[i].received)
    ));
    expect(fromCaddy[0] + fromCaddy[1]).toBe(20);
    expect(fromCaddy[0]).toBeGreaterThan(0);
    expect(fromCaddy[1]).toBeGreaterThan(0);
  }, 30_000);

  test("the target sees the visitor's address as Caddy passed it (X-Forwarded-For) and X-Forwarded-Proto https", async () => {
    // The visitor connects from 127.0.0.2, Caddy from 127.0.0.1; Caddy drops an X-Forwarded-For the visitor sends.
    // Four requests: round robin sends some to the entry holding the session and some to the one forwarding them.
    const host = `${names.web}.${DOMAIN}`;
    for (let i = 0; i < 4; i++) {
      const res = await curl([
        "--interface", "127.0.0.2", "--cacert", certs.ca, "--resolve", `${host}:${https}:127.0.0.1`,
        "-H", "X-Forwarded-For: 203.0.113.9", `https://${host}:${https}/echo?xff=${i}`,
      ]);
      expect(res.stderr).toBe("");
      expect(res.head).toMatch(/^HTTP\/2 200/);
      const seen = new Map<string, string>(JSON.parse(new TextDecoder().decode(res.body)).headers);
      expect(seen.get("x-forwarded-for")).toBe("127.0.0.2");
      expect(seen.get("x-forwarded-proto")).toBe("https");
      expect(seen.get("x-forwarded-host")).toBe(`${host}:${https}`);
    }
  });

  test("server-sent events through Caddy arrive as they are written (flush_interval -1)", async () => {
    const res = await visit(names.web, "/sse?count=3&every=400");
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const delays = await eventDelays(res.body!);
    expect(delays.length).toBe(3);
    for (const delay of delays) expect(delay).toBeLessThan(300);
  });

  test("a visitor's WebSocket through Caddy echoes", async () => {
    await connect(names.ws, wsTarget.port);
    for (let round = 0; round < 2; round++) { // two sockets: round robin puts one on each entry
      const ws = new WebSocket(`wss://${names.ws}.${DOMAIN}:${https}/echo`, { tls: { ca: certs.caPem } } as unknown as string[]);
      ws.binaryType = "arraybuffer";
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onclose = (event) => reject(new Error(`WebSocket closed before opening (${event.code})`));
      });
      const messages: (string | number[])[] = [];
      const got = new Promise<void>((resolve) => {
        ws.onmessage = (event) => {
          messages.push(typeof event.data === "string" ? event.data : [...new Uint8Array(event.data as ArrayBuffer)]);
          if (messages.length === 2) resolve();
        };
      });
      ws.send(`text through caddy ${round}`);
      ws.send(new Uint8Array([1, 2, 3, 250]));
      await got;
      expect(messages).toEqual([`text through caddy ${round}`, [1, 2, 3, 250]]);
      const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
      ws.close(4001, "done");
      expect(await closed).toBe(4001);
    }
  }, 20_000);

  test("kill -9 of the entry holding a session: visitors through Caddy are served again within seconds", async () => {
    await connect(names.move, target.port, ["--uplinks", "1"]);
    const holds = async (e: Entry) => {
      const res = await fetch(`http://127.0.0.1:${e.port}/api/sessions`, { headers: { authorization: `Bearer ${DASHBOARD_TOKEN}` } });
      return ((await res.json()).sessions as { name: string }[]).some((s) => s.name === names.move);
    };
    const holder = await eventually(async () => {
      for (const e of Object.values(entries)) if (await holds(e)) return e;
    });
    await eventually(async () => (await visit(names.move, "/echo")).status === 200 || undefined);
    const killed = Date.now();
    holder.proc.kill(9);
    await holder.proc.exited;
    const statuses: number[] = [];
    const back = await eventually(async () => {
      const res = await visit(names.move, "/echo", { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      statuses.push(res.status);
      return res.status === 200 ? Date.now() - killed : undefined;
    }, 15_000, 100);
    console.log(`${runtime}: kill -9 of the holding entry; served through Caddy again after ${back} ms (${statuses.length} tries: ${[...new Set(statuses)].join(", ")})`);
    expect(back).toBeLessThan(10_000);
    // From then on, every visitor is served.
    for (let i = 0; i < 10; i++) expect((await visit(names.move, `/echo?after=${i}`)).status).toBe(200);
    const other = Object.values(entries).find((e) => e !== holder)!;
    expect(await holds(other)).toBe(true);
    expect(caddy.proc.exitCode).toBeNull();
  }, 40_000);
});
