/**
 * End to end in headless Chromium: single sign-on for a tunnel against a
 * real OpenID Connect provider (oidc-provider, started here on loopback),
 * with real entry and client processes. The browser opens the tunnel, is
 * sent to the provider, logs in, comes back with the identity at the
 * target; the cookie holds for its own session's host only; logout ends it.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ARTIFACTS, chromiumPath, closeBrowsers, NO_CHROMIUM_MESSAGE, openBrowser } from "./helpers/browser.ts";
import { hasOidcProvider, startOidcProvider } from "./helpers/oidc-provider.ts";
import { type Runtime, runToEnd, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { freePort } from "./helpers/redis-server.ts";
import { visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

if (!chromiumPath) console.warn(NO_CHROMIUM_MESSAGE);

const SECRET = "sign-on-test-secret";
const token = (session: string) => createHmac("sha256", SECRET).update(session).digest("hex");

/** Every header the target was sent, by path. */
const seen: { path: string; headers: Record<string, string> }[] = [];
const target = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/favicon.ico") return new Response(null, { status: 404 }); // the browser's own, once signed on
    seen.push({ path: url.pathname, headers: Object.fromEntries(request.headers) });
    const email = request.headers.get("x-tunnel2-user-email") ?? "nobody";
    return new Response(`<!doctype html><title>app</title><h1 id="who">${email}</h1><p>${url.pathname}</p>`, {
      headers: { "content-type": "text/html; charset=utf-8" },
    });
  },
});
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(async () => {
  await closeBrowsers();
  await stopAll();
  seen.length = 0;
});
afterAll(() => target.stop(true));

/** The provider's development login: any login, any password, then its consent page. */
async function logIn(page: Page, login: string, screenshot?: string): Promise<void> {
  await page.waitForSelector('input[name="login"]', { timeout: 10_000 });
  if (screenshot) await page.screenshot({ path: join(ARTIFACTS, screenshot) });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', "any");
  await page.click('button[type="submit"]');
  const consent = page.locator('button:has-text("Continue")');
  if (await consent.count().then((n) => n > 0, () => false)) await consent.click();
}

describe.skipIf(!chromiumPath || !hasOidcProvider).each(["bun", "deno"] as Runtime[])("sign-on, entry on %s", (runtime) => {
  test("a browser signs on at the provider and reaches the target as itself; other hosts, other addresses and logout are refused", async () => {
    const port = await freePort();
    const provider = await startOidcProvider("tunnel2-entry", "provider-secret", [`http://localhost:${port}/_tunnel/oidc/callback`]);
    try {
      const entry = await startEntry(runtime, {
        PORT: String(port),
        TUNNEL_SECRET: SECRET,
        TUNNEL_OIDC_ISSUER: provider.issuer,
        TUNNEL_OIDC_CLIENT_ID: "tunnel2-entry",
        TUNNEL_OIDC_CLIENT_SECRET: "provider-secret",
      });
      await eventually(() => entry.output().includes(`sign-on on issuer=${provider.issuer}/ redirect_uri=http://localhost:${port}/_tunnel/oidc/callback`) || undefined);
      await Promise.all([
        startClient("bun", entry, "sso", targetUrl, ["--token", token("sso"), "--oidc-allow", "*@acme.com"]),
        startClient("bun", entry, "other", targetUrl, ["--token", token("other"), "--oidc-allow", "*@acme.com"]),
      ]);

      // Not a browser: 401 saying where to sign on, nothing at the target.
      const api = await visit(port, "sso", "/api/data");
      expect([api.status, await api.text()]).toEqual([401, `Unauthorized: this tunnel needs a sign-on: open http://sso.localhost:${port}/ in a browser\n`]);

      const browser = await openBrowser();
      const page = await browser.newPage();
      await page.goto(`http://sso.localhost:${port}/dashboard?tab=2`);
      expect(new URL(page.url()).origin).toBe(provider.issuer);
      await logIn(page, "alice@acme.com", `sign-on-provider-${runtime}.png`);
      await page.waitForURL(`http://sso.localhost:${port}/dashboard?tab=2`, { timeout: 10_000 });
      expect(await page.textContent("#who")).toBe("alice@acme.com");
      await page.screenshot({ path: join(ARTIFACTS, `sign-on-done-${runtime}.png`) });

      // The target got the identity, never the sign-on cookies, and nothing before the sign-on.
      expect(seen.map((s) => s.path)).toEqual(["/dashboard"]);
      expect(seen[0].headers["x-tunnel2-user-email"]).toBe("alice@acme.com");
      expect(seen[0].headers.cookie ?? "").not.toContain("__tunnel2");

      // The cookie is host-only and bound to its host: copied to another session's host it proves nothing.
      const cookies = await browser.cookies();
      const sso = cookies.find((c) => c.name === "__tunnel2_sso")!;
      expect(sso).toMatchObject({ domain: "sso.localhost", httpOnly: true, sameSite: "Lax", secure: false });
      const copied = await visit(port, "other", "/copied", { headers: { cookie: `__tunnel2_sso=${sso.value}` } });
      expect(copied.status).toBe(401);
      // In the browser, the other session sends it through the provider again (which remembers alice: no form this time).
      const visited: string[] = [];
      page.on("request", (r) => r.isNavigationRequest() && visited.push(new URL(r.url()).origin));
      await page.goto(`http://other.localhost:${port}/`);
      await page.waitForURL(`http://other.localhost:${port}/`, { timeout: 10_000 });
      expect(visited).toContain(provider.issuer);
      expect(await page.textContent("#who")).toBe("alice@acme.com");
      expect((await browser.cookies()).filter((c) => c.name === "__tunnel2_sso").map((c) => c.domain).sort()).toEqual(["other.localhost", "sso.localhost"]);

      // A forged visitor copy of the identity header never reaches the target.
      await page.goto(`http://sso.localhost:${port}/again`);
      expect(await page.textContent("#who")).toBe("alice@acme.com");
      const forged = await visit(port, "sso", "/forged", { headers: { cookie: `__tunnel2_sso=${sso.value}`, "x-tunnel2-user-email": "mallory@acme.com" } });
      expect(await forged.text()).toContain("alice@acme.com");

      // Logout ends the tunnel's sign-on: the cookie is gone, and the next page load goes through the provider again
      // (whose own session, as with any single sign-on, may let the browser straight back in).
      await page.goto(`http://sso.localhost:${port}/_tunnel/logout`);
      expect(await page.textContent("body")).toContain(`Signed out of sso.localhost:${port}`);
      expect((await browser.cookies()).filter((c) => c.name === "__tunnel2_sso").map((c) => c.domain)).toEqual(["other.localhost"]);
      visited.length = 0;
      await page.goto(`http://sso.localhost:${port}/after-logout`);
      await page.waitForURL(`http://sso.localhost:${port}/after-logout`, { timeout: 10_000 });
      expect(visited).toContain(provider.issuer);

      // An address the tunnel does not let in: 403, after a real sign-on.
      const other = await (await openBrowser()).newPage();
      await other.goto(`http://sso.localhost:${port}/`);
      await logIn(other, "bob@example.org");
      await other.waitForURL(`http://sso.localhost:${port}/`, { timeout: 10_000 });
      expect(await other.textContent("body")).toContain('you are signed on as bob@example.org, and session "sso" does not let that address in');

      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/tunnel2_access_refused_total\{session="sso",reason="sign_on"\} [4-9]/);
    } finally {
      provider.stop();
    }
  }, 60_000);
});

describe.skipIf(!chromiumPath || !hasOidcProvider)("sign-on across entries", () => {
  test("a cookie one entry gave is good on another entry with the same secret", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const provider = await startOidcProvider("tunnel2-entry", "provider-secret", [portA, portB].map((p) => `http://localhost:${p}/_tunnel/oidc/callback`));
    try {
      const env = (port: number) => ({
        PORT: String(port),
        TUNNEL_SECRET: SECRET,
        TUNNEL_OIDC_ISSUER: provider.issuer,
        TUNNEL_OIDC_CLIENT_ID: "tunnel2-entry",
        TUNNEL_OIDC_CLIENT_SECRET: "provider-secret",
      });
      const [a, b] = await Promise.all([startEntry("bun", env(portA)), startEntry("deno", env(portB))]);
      for (const entry of [a, b]) await eventually(() => entry.output().includes("sign-on on") || undefined);
      // The same tunnel on both entries (as a client with --server A,B ends up when A goes away).
      await Promise.all([a, b].map((entry) => startClient("bun", entry, "shared", targetUrl, ["--token", token("shared"), "--oidc-allow", "alice@acme.com"])));
      const page = await (await openBrowser()).newPage();
      await page.goto(`http://shared.localhost:${portA}/`);
      await logIn(page, "alice@acme.com");
      await page.waitForURL(`http://shared.localhost:${portA}/`, { timeout: 10_000 });
      const cookie = (await page.context().cookies()).find((c) => c.name === "__tunnel2_sso")!;
      // Entry B checks it itself (it holds an uplink of the session): the same public host, another entry.
      const onB = await fetch(`http://127.0.0.1:${portB}/from-b`, { headers: { host: `shared.localhost:${portA}`, cookie: `__tunnel2_sso=${cookie.value}` }, redirect: "manual" });
      expect([onB.status, await onB.text()]).toEqual([200, expect.stringContaining("alice@acme.com")]);
      expect(seen.find((s) => s.path === "/from-b")?.headers["x-tunnel2-user-email"]).toBe("alice@acme.com");
    } finally {
      provider.stop();
    }
  }, 60_000);
});

describe.skipIf(!hasOidcProvider)("sign-on, misconfigured", () => {
  test("an entry whose provider cannot be reached says so and exits", async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const run = await runToEnd("bun", "src/server.ts", [], {
      PORT: "0",
      HOSTNAME: "127.0.0.1",
      TUNNEL_SECRET: SECRET,
      TUNNEL_OIDC_ISSUER: unreachable,
      TUNNEL_OIDC_CLIENT_ID: "x",
    });
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain(`Cannot use the sign-on provider ${unreachable}/ (TUNNEL_OIDC_ISSUER)`);
  }, 30_000);
});
