/**
 * End to end: who may reach a tunnel. Real entry and client processes (Bun
 * and Deno), a target that records everything it is sent, and visitors that
 * are let in or kept out by basic auth, IP lists, webhook signatures, the
 * operator's floor, alone and combined, over HTTP and WebSocket upgrades,
 * on one entry and across a cluster of two.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { command, type Runtime, runToEnd, spawnUntil, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { hasRedis, startRedis } from "./helpers/redis-server.ts";
import { rawRequest, sessionHost, visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

/** What the target was sent. */
interface Seen {
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

const seen: Seen[] = [];
const target = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request, server) {
    const url = new URL(request.url);
    seen.push({ path: url.pathname + url.search, headers: Object.fromEntries(request.headers), body: new Uint8Array(await request.arrayBuffer()) });
    if (request.headers.get("upgrade")?.toLowerCase() === "websocket" && server.upgrade(request)) return undefined;
    return new Response(`ok ${url.pathname}`);
  },
  websocket: { message: (ws, message) => ws.send(message) },
});
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(async () => {
  await stopAll();
  seen.length = 0;
});
afterAll(() => target.stop(true));

const basic = (pair: string) => `Basic ${btoa(pair)}`;
const githubSignature = (secret: string, body: string | Uint8Array) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

/** Requests the target saw for a path prefix since `from`. */
const seenAt = (prefix: string) => seen.filter((s) => s.path.startsWith(prefix));

/** The upgrade answer's status line, by hand (no WebSocket client hides a 401). */
async function upgradeStatus(port: number, session: string, path: string, headers: string[] = []): Promise<string> {
  const answer = await rawRequest(port, [
    `GET ${path} HTTP/1.1\r\nHost: ${sessionHost(session, port)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`,
  ], 0, undefined, /\r\n\r\n/);
  return answer.split("\r\n")[0];
}

for (const runtime of ["bun", "deno"] as Runtime[]) {
  describe(`access rules (${runtime})`, () => {
    test("basic auth: 401 with a challenge, never reaching the target; the right pair goes through without its Authorization", async () => {
      const entry = await startEntry(runtime);
      const client = await startClient(runtime, entry, "ba", targetUrl, [], { TUNNEL_BASIC_AUTH: "alice:s3cret,bob:pa:ss" });
      await eventually(() => client.output().includes("access   basic auth: users alice, bob") || undefined);
      expect(client.output()).not.toContain("s3cret");

      const none = await visit(entry.port, "ba", "/ba/none");
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Basic realm="ba", charset="UTF-8"');
      expect(await none.text()).toBe('Unauthorized: session "ba" needs a user name and password\n');
      for (const wrong of ["alice:s3cre", "carol:s3cret", "alice"]) {
        expect((await visit(entry.port, "ba", "/ba/wrong", { headers: { authorization: basic(wrong) } })).status).toBe(401);
      }
      expect(seenAt("/ba/")).toEqual([]);

      for (const pair of ["alice:s3cret", "bob:pa:ss"]) {
        const ok = await visit(entry.port, "ba", "/ba/ok", { headers: { authorization: basic(pair) } });
        expect([ok.status, await ok.text()]).toEqual([200, "ok /ba/ok"]);
      }
      expect(seenAt("/ba/ok").length).toBe(2);
      expect(seenAt("/ba/ok").map((s) => s.headers.authorization)).toEqual([undefined, undefined]);

      // WebSocket upgrades pass the same check.
      expect(await upgradeStatus(entry.port, "ba", "/ba/ws-none")).toBe("HTTP/1.1 401 Unauthorized");
      expect(await upgradeStatus(entry.port, "ba", "/ba/ws-ok", [`Authorization: ${basic("alice:s3cret")}`])).toBe("HTTP/1.1 101 Switching Protocols");
      expect(seenAt("/ba/ws-none")).toEqual([]);
      expect(seenAt("/ba/ws-ok")[0].headers.authorization).toBeUndefined();

      const metrics = await (await fetch(`http://127.0.0.1:${entry.port}/metrics`)).text();
      expect(metrics).toContain('tunnel2_access_refused_total{session="ba",reason="basic_auth"} 5');
      const api = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
      expect(api.sessions[0].access).toEqual({ own: { basicAuth: { users: ["alice", "bob"] } } });
      expect(JSON.stringify(api)).not.toContain("s3cret");
    }, 30_000);

    test("IP lists: the socket's address decides, a visitor's headers never do; deny wins; IPv6 through a trusted proxy", async () => {
      const entry = await startEntry(runtime);
      await Promise.all([
        startClient(runtime, entry, "only-ten", targetUrl, ["--allow-ip", "10.0.0.0/8"]),
        startClient(runtime, entry, "only-local", targetUrl, ["--allow-ip", "127.0.0.1,::1"]),
        startClient(runtime, entry, "no-local", targetUrl, ["--allow-ip", "0.0.0.0/0", "--deny-ip", "127.0.0.0/8"]),
      ]);
      const spoofs = { "x-forwarded-for": "10.1.2.3", "x-real-ip": "10.1.2.3", forwarded: "for=10.1.2.3", "fly-client-ip": "10.1.2.3" };
      const refused = await visit(entry.port, "only-ten", "/ip/ten", { headers: spoofs });
      expect([refused.status, await refused.text()]).toEqual([403, 'Forbidden: session "only-ten" does not take requests from your address\n']);
      expect((await visit(entry.port, "only-local", "/ip/local")).status).toBe(200);
      expect((await visit(entry.port, "no-local", "/ip/no-local")).status).toBe(403);
      expect(seenAt("/ip/").map((s) => s.path)).toEqual(["/ip/local"]);
      expect(await upgradeStatus(entry.port, "only-ten", "/ip/ws")).toBe("HTTP/1.1 403 Forbidden");

      // Behind a trusted proxy the proxy's word is the address: IPv6 and mapped IPv4 match their rules.
      const proxied = await startEntry(runtime, { TRUST_PROXY: "1" });
      await Promise.all([
        startClient(runtime, proxied, "v6", targetUrl, ["--allow-ip", "2001:db8::/32"]),
        startClient(runtime, proxied, "v4", targetUrl, ["--deny-ip", "198.51.100.0/24"]),
      ]);
      const from = (address: string) => ({ headers: { "x-forwarded-for": address } });
      expect((await visit(proxied.port, "v6", "/ip/v6-in", from("2001:db8:1::5"))).status).toBe(200);
      expect((await visit(proxied.port, "v6", "/ip/v6-out", from("2001:db9::5"))).status).toBe(403);
      expect((await visit(proxied.port, "v4", "/ip/v4-mapped", from("::ffff:198.51.100.7"))).status).toBe(403);
      expect((await visit(proxied.port, "v4", "/ip/v4-other", from("203.0.113.1"))).status).toBe(200);
      expect(seenAt("/ip/v").map((s) => s.path)).toEqual(["/ip/v6-in", "/ip/v4-other"]);
      const metrics = await (await fetch(`http://127.0.0.1:${proxied.port}/metrics`)).text();
      expect(metrics).toContain('tunnel2_access_refused_total{session="v6",reason="ip_allow"} 1');
      expect(metrics).toContain('tunnel2_access_refused_total{session="v4",reason="ip_deny"} 1');
    }, 30_000);

    test("webhooks: a signed body reaches the target byte for byte; tampered, unsigned or too big ones never do", async () => {
      const entry = await startEntry(runtime);
      await startClient(runtime, entry, "hooks", targetUrl, ["--verify-webhook", "github"], { TUNNEL_WEBHOOK_SECRET: "hook-secret" });
      const body = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
      const post = (payload: Uint8Array | string, signature?: string, path = "/hook/in") =>
        visit(entry.port, "hooks", path, { method: "POST", body: payload, headers: signature ? { "x-hub-signature-256": signature } : {} });

      const ok = await post(body, githubSignature("hook-secret", body));
      expect([ok.status, await ok.text()]).toEqual([200, "ok /hook/in"]);
      expect(Buffer.from(seenAt("/hook/in")[0].body).equals(Buffer.from(body))).toBe(true);

      const tampered = body.slice();
      tampered[1000] ^= 1;
      const bad = await post(tampered, githubSignature("hook-secret", body), "/hook/tampered");
      expect([bad.status, await bad.text()]).toEqual([401, 'Unauthorized: session "hooks" takes only signed webhooks: the signature does not match the body\n']);
      expect((await post("{}", undefined, "/hook/unsigned")).status).toBe(401);
      expect((await post("{}", githubSignature("other-secret", "{}"), "/hook/other-secret")).status).toBe(401);
      const big = new Uint8Array(1024 * 1024 + 1);
      expect((await post(big, githubSignature("hook-secret", big), "/hook/big")).status).toBe(413);
      expect(seenAt("/hook/").map((s) => s.path)).toEqual(["/hook/in"]);
      const metrics = await (await fetch(`http://127.0.0.1:${entry.port}/metrics`)).text();
      expect(metrics).toContain('tunnel2_access_refused_total{session="hooks",reason="webhook"} 4');
    }, 30_000);

    test("rules combine: the right password from the wrong address is still refused", async () => {
      const entry = await startEntry(runtime);
      await startClient(runtime, entry, "both", targetUrl, ["--allow-ip", "192.0.2.0/24"], { TUNNEL_BASIC_AUTH: "alice:pw" });
      const res = await visit(entry.port, "both", "/both", { headers: { authorization: basic("alice:pw") } });
      expect(res.status).toBe(403);
      expect(seenAt("/both")).toEqual([]);
    }, 30_000);

    test("the operator's floor: it holds whatever the tunnel asks, and a rule it requires is a clear refusal", async () => {
      const policy = { sessions: { "*": { denyIp: ["127.0.0.0/8"] }, guarded: { require: ["basicAuth"] } } };
      const entry = await startEntry(runtime, { TUNNEL_POLICY: JSON.stringify(policy) });
      // The tunnel allows everyone; the floor still keeps loopback out.
      await startClient(runtime, entry, "wide", targetUrl, ["--allow-ip", "0.0.0.0/0,::/0"]);
      expect((await visit(entry.port, "wide", "/floor/wide")).status).toBe(403);
      expect(seenAt("/floor/")).toEqual([]);
      const api = await (await fetch(`http://127.0.0.1:${entry.port}/api/sessions`)).json();
      expect(api.sessions[0].access).toEqual({ own: { allowIp: ["0.0.0.0/0", "::/0"] }, floor: { denyIp: ["127.0.0.0/8"] } });

      // A session the floor requires basic auth for: refused at once, saying what to set, not retried.
      const refused = await runToEnd(runtime, "src/client.ts", [
        "--server", `http://127.0.0.1:${entry.port}`, "--session", "guarded", "--token", "t", "--to", targetUrl,
      ], { TUNNEL_INSPECT: "off" });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("Refused by the entry: Access rules refused: this entry requires --basic-auth for session guarded");
      // With it, the same session comes up.
      await startClient(runtime, entry, "guarded", targetUrl, [], { TUNNEL_BASIC_AUTH: "ops:pw" });
    }, 30_000);

    test("sign-on asked of an entry without a provider is refused, never left open", async () => {
      const entry = await startEntry(runtime);
      const refused = await runToEnd(runtime, "src/client.ts", [
        "--server", `http://127.0.0.1:${entry.port}`, "--session", "sso", "--token", "t", "--to", targetUrl, "--oidc-allow", "*@acme.com",
      ], { TUNNEL_INSPECT: "off" });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("this entry has no sign-on provider (TUNNEL_OIDC_ISSUER) for --oidc-allow");
    }, 30_000);
  });
}

describe("access rules from the tunnel2 command", () => {
  test("config add-tunnel saves the rules (secrets from the environment), show hides them, start enforces them; http warns of a password flag", async () => {
    const entry = await startEntry("bun");
    const env = { TUNNEL2_CONFIG: join(mkdtempSync(join(tmpdir(), "tunnel2-access-")), "config.json"), TUNNEL_SERVER: `http://127.0.0.1:${entry.port}` };
    const add = await runToEnd("bun", "src/cli/main.ts", ["config", "add-tunnel", "saved", String(target.port), "--allow-ip", "127.0.0.1"], {
      ...env,
      TUNNEL_BASIC_AUTH: "alice:from-env",
    });
    expect(add.code).toBe(0);
    expect(add.stdout).toContain("access   basic auth: user alice");
    expect(add.stdout).toContain("access   allow only from: 127.0.0.1");
    const show = await runToEnd("bun", "src/cli/main.ts", ["config", "show"], env);
    expect(show.stdout).toContain('"users": [');
    expect(show.stdout).not.toContain("from-env");
    await spawnUntil([...command("bun", "src/cli/main.ts"), "start"], env, /Forwarding/);
    const none = await eventually(async () => {
      const r = await visit(entry.port, "saved", "/cli/none");
      return r.status === 502 ? undefined : r;
    });
    expect(none.status).toBe(401);
    expect((await visit(entry.port, "saved", "/cli/ok", { headers: { authorization: basic("alice:from-env") } })).status).toBe(200);

    const http = await spawnUntil([...command("bun", "src/cli/main.ts"), "http", String(target.port), "--session", "flagged", "--basic-auth", "bob:typed"], env, /Forwarding/);
    expect(http.output()).toContain("Note: a password on the command line shows in ps and in shell history: set TUNNEL_BASIC_AUTH=user:pass instead");
    expect((await visit(entry.port, "flagged", "/cli/flagged")).status).toBe(401);
    expect((await visit(entry.port, "flagged", "/cli/flagged", { headers: { authorization: basic("bob:typed") } })).status).toBe(200);
    expect(seenAt("/cli/").map((s) => s.path)).toEqual(["/cli/ok", "/cli/flagged"]);
  }, 30_000);
});

describe("access rules across a cluster of two entries", () => {
  test.skipIf(!hasRedis)("a visitor landing on the other entry meets the same rules", async () => {
    const redis = await startRedis();
    try {
      const env = (id: string) => ({ REDIS_URL: redis.url, TUNNEL_PEER_SECRET: "cluster-access", TUNNEL_INSTANCE_ID: id });
      // B trusts a proxy in front of it: the visitor's address is then the one the proxy names, and B vouches for it to A.
      const [a, b] = await Promise.all([startEntry("bun", env("a")), startEntry("deno", { ...env("b"), TRUST_PROXY: "1" })]);
      await startClient("bun", a, "clustered", targetUrl, ["--deny-ip", "198.51.100.0/24"], { TUNNEL_BASIC_AUTH: "alice:pw" });
      // B learns from the directory that A holds it; until then it answers 502.
      const none = await eventually(async () => {
        const r = await visit(b.port, "clustered", "/cl/none");
        return r.status === 502 ? undefined : r;
      }, 10_000);
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toBe('Basic realm="clustered", charset="UTF-8"');
      const ok = await visit(b.port, "clustered", "/cl/ok", { headers: { authorization: basic("alice:pw") } });
      expect([ok.status, await ok.text()]).toEqual([200, "ok /cl/ok"]);
      const denied = await visit(b.port, "clustered", "/cl/denied", { headers: { authorization: basic("alice:pw"), "x-forwarded-for": "198.51.100.7" } });
      expect(denied.status).toBe(403);
      const elsewhere = await visit(b.port, "clustered", "/cl/elsewhere", { headers: { authorization: basic("alice:pw"), "x-forwarded-for": "203.0.113.1" } });
      expect(elsewhere.status).toBe(200);
      expect(seenAt("/cl/").map((s) => [s.path, s.headers.authorization])).toEqual([["/cl/ok", undefined], ["/cl/elsewhere", undefined]]);
      expect(seenAt("/cl/elsewhere")[0].headers["x-forwarded-for"]).toBe("203.0.113.1");
    } finally {
      await stopAll();
      await redis.stop();
    }
  }, 40_000);
});
