/**
 * In headless Chromium: a page served through the tunnel opens a WebSocket
 * back through the tunnel (what a dev server's hot reload does).
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ARTIFACTS, chromiumPath, closeBrowsers, NO_CHROMIUM_MESSAGE, openBrowser } from "./helpers/browser.ts";
import { type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { startWebSocketTarget } from "./helpers/websocket-target.ts";

if (!chromiumPath) console.warn(NO_CHROMIUM_MESSAGE);

const target = startWebSocketTarget();
afterEach(async () => {
  await closeBrowsers();
  await stopAll();
});
afterAll(() => target.stop());

describe.skipIf(!chromiumPath).each(["bun", "deno"] as Runtime[])("browser WebSocket through the tunnel, entry and client on %s", (runtime) => {
  test("a page from the tunnel talks to its server over a WebSocket through the tunnel", async () => {
    const entry = await startEntry(runtime);
    const client = await startClient(runtime, entry, "hmr", `http://127.0.0.1:${target.port}`);
    const browser = await openBrowser();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    // The public URL as the client printed it: Chromium resolves *.localhost to loopback itself.
    await page.goto(`${client.url}/page`);
    await page.waitForFunction(() => (window as unknown as { echoed?: string }).echoed !== undefined, undefined, { timeout: 10_000 });
    const log = await page.locator("#log").textContent();
    expect(log).toContain("open chat");
    expect(log).toContain("echo hello from the browser");
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, `browser-websocket-${runtime}.png`) });
    // Two processes and a browser start here: on a busy machine that alone can pass the default 5 s.
  }, 30_000);
});
