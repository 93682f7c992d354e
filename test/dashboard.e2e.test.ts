/** End to end in headless Chromium: the entry's live dashboard at `/`. */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { ARTIFACTS, chromiumPath, closeBrowsers, NO_CHROMIUM_MESSAGE, openBrowser } from "./helpers/browser.ts";
import { type Runtime, spawnUntil, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { startTarget } from "./helpers/target-server.ts";
import { visit } from "./helpers/visitor.ts";

if (!chromiumPath) console.warn(NO_CHROMIUM_MESSAGE);

const target = startTarget();
const targetUrl = `http://127.0.0.1:${target.port}`;
afterEach(async () => {
  await closeBrowsers();
  await stopAll();
});
afterAll(() => target.stop());

/** Sends requests to `session` until `stop` is set, `perTick` at a time every 10 ms. */
function drive(port: number, session: string, perTick: number): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(Array.from({ length: perTick }, async () => (await visit(port, session, "/echo")).arrayBuffer()));
      await Bun.sleep(10);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

async function openDashboard(port: number): Promise<Page> {
  const browser = await openBrowser();
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForSelector("#feed-status.live", { timeout: 10_000 });
  expect(errors).toEqual([]);
  return page;
}

describe.skipIf(!chromiumPath).each(["bun", "deno"] as Runtime[])("dashboard, entry on %s", (runtime) => {
  test("charts a busy session's requests live", async () => {
    const entry = await startEntry(runtime);
    await startClient("bun", entry, "busy", targetUrl);
    const traffic = drive(entry.port, "busy", 4);
    try {
      const page = await openDashboard(entry.port);
      const card = page.locator('section.session[data-session="busy"]');
      await page.waitForFunction(
        () => Number(document.querySelector<HTMLElement>('[data-session="busy"]')?.dataset.chartRpsMax ?? 0) > 0,
        undefined,
        { timeout: 15_000 },
      );
      expect(await card.locator("canvas").count()).toBeGreaterThanOrEqual(5);
      expect(Number(await card.getAttribute("data-rps"))).toBeGreaterThan(0);
      expect(await card.locator("h2").textContent()).toBe("busy");
      expect(await page.locator("#empty").isHidden()).toBe(true);
      expect(await page.locator("#summary").textContent()).toContain("1 session");
      await page.screenshot({ path: join(ARTIFACTS, `dashboard-${runtime}.png`), fullPage: true });
    } finally {
      await traffic.stop();
    }
  }, 30_000);

  test("shows visitors kept out by a session's access rules", async () => {
    const entry = await startEntry(runtime, { TUNNEL_DASHBOARD_TICK_MS: "200" });
    await startClient("bun", entry, "guarded", targetUrl, [], { TUNNEL_BASIC_AUTH: "alice:pw" });
    const traffic = drive(entry.port, "guarded", 2); // no credentials: every request is refused
    try {
      const page = await openDashboard(entry.port);
      await page.waitForFunction(
        () => Number(document.querySelector<HTMLElement>('[data-session="guarded"]')?.dataset.refused ?? 0) > 0,
        undefined,
        { timeout: 15_000 },
      );
      const figure = page.locator('section.session[data-session="guarded"] .figures span.bad', { hasText: "refused/s" });
      expect(await figure.count()).toBe(1);
    } finally {
      await traffic.stop();
    }
  }, 30_000);

  test("says so when no session is connected", async () => {
    const entry = await startEntry(runtime);
    const page = await openDashboard(entry.port);
    await page.waitForSelector("#empty:not([hidden])", { timeout: 5_000 });
    expect(await page.locator("#empty h2").textContent()).toBe("No sessions connected");
    expect(await page.locator("section.session").count()).toBe(0);
  }, 30_000);
});

describe.skipIf(!chromiumPath)("dashboard behind DASHBOARD_TOKEN", () => {
  test("a browser with Basic credentials gets the page and its live feed; without them, 401", async () => {
    const entry = await startEntry("bun", { DASHBOARD_TOKEN: "s3cret-dash" });
    await startClient("bun", entry, "guarded", targetUrl);
    for (const path of ["/", "/api/live", "/dashboard/dashboard.js"]) {
      const refused = await fetch(`http://127.0.0.1:${entry.port}${path}`);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain("Basic");
    }
    const browser = await openBrowser({ httpCredentials: { username: "ops", password: "s3cret-dash" } });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${entry.port}/`);
    await page.waitForSelector("#feed-status.live", { timeout: 10_000 });
    await page.waitForSelector('section.session[data-session="guarded"]', { timeout: 5_000 });
  }, 30_000);
});

describe.skipIf(!chromiumPath)("dashboard with many sessions", () => {
  test("shows 100 sessions, the busiest first", async () => {
    const entry = await startEntry("bun");
    await spawnUntil(
      [process.execPath, "run", "test/helpers/many-sessions.ts", `http://127.0.0.1:${entry.port}`, targetUrl, "s", "100"],
      {},
      /sessions ready 100/,
      60_000,
    );
    const busiest = drive(entry.port, "s042", 6);
    const second = drive(entry.port, "s007", 1);
    try {
      const page = await openDashboard(entry.port);
      await page.waitForFunction(() => document.querySelectorAll("section.session").length === 100, undefined, { timeout: 10_000 });
      await page.waitForFunction(
        () => {
          const names = [...document.querySelectorAll<HTMLElement>("section.session")].slice(0, 2).map((s) => s.dataset.session);
          return names[0] === "s042" && names[1] === "s007";
        },
        undefined,
        { timeout: 20_000 },
      );
      expect(await page.locator("#summary").textContent()).toContain("100 sessions");
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-100-sessions.png") });
    } finally {
      await Promise.all([busiest.stop(), second.stop()]);
    }
  }, 90_000);
});
