/** End to end in headless Chromium: the client's request inspector page. */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ARTIFACTS, chromiumPath, closeBrowsers, NO_CHROMIUM_MESSAGE, openBrowser } from "./helpers/browser.ts";
import { type Runtime, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { startTarget } from "./helpers/target-server.ts";
import { rawRequest, visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

if (!chromiumPath) console.warn(NO_CHROMIUM_MESSAGE);

const target = startTarget();
afterAll(async () => {
  await closeBrowsers();
  await stopAll();
  target.stop();
});

describe.skipIf(!chromiumPath).each(["bun", "deno"] as Runtime[])("inspector page, client on %s", (runtime) => {
  test("lists a webhook live, shows its JSON pretty-printed, replays it; captured markup stays text", async () => {
    const session = `page-${runtime}`;
    const entry = await startEntry("bun");
    const client = await startClient(runtime, entry, session, `http://127.0.0.1:${target.port}`, ["--inspect", "127.0.0.1:0"]);
    const [inspector, base] = await eventually(() => client.output().match(/Inspector +((http:\/\/127\.0\.0\.1:\d+)\/\?token=\w+)/)?.slice(1));

    const browser = await openBrowser();
    const page = await browser.newPage();
    const errors: string[] = [];
    const dialogs: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    // The address without the printed token (4040 by habit): nothing of this client's requests.
    const bare = await page.goto(base);
    expect([bare?.status(), await page.textContent("body")]).toEqual([401, expect.stringContaining("Open the URL its tunnel2 client printed")]);
    await page.goto(inspector);
    await page.waitForSelector("#feed-status.live", { timeout: 10_000 });
    expect(page.url()).toBe(`${base}/`); // the token went into a cookie, out of the address bar

    // A webhook-like POST through the public URL appears within a second.
    const sent = Date.now();
    await visit(entry.port, session, "/echo?source=stripe", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"type":"invoice.paid","data":{"amount":1200}}',
    });
    const row = page.locator("#rows tr", { hasText: "/echo?source=stripe" });
    await row.waitFor({ timeout: 1000 + (Date.now() - sent) });
    expect(Date.now() - sent).toBeLessThan(1500);
    await row.click();
    const requestBody = page.locator("#request-body pre.json");
    await requestBody.waitFor();
    expect(await requestBody.textContent()).toBe('{\n  "type": "invoice.paid",\n  "data": {\n    "amount": 1200\n  }\n}');
    expect(await page.locator("#response-head").textContent()).toStartWith("200");

    // Replay: a new row, marked as a replay of the first.
    const rowsBefore = await page.locator("#rows tr").count();
    await page.click("#replay");
    await page.waitForFunction((n) => document.querySelectorAll("#rows tr").length > n, rowsBefore);
    expect(await page.locator("#rows tr.replay").count()).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, `inspector-${runtime}.png`) });

    // Replay with changes: the target answers what it got.
    await page.click("#edit");
    await page.fill("#edit-body", '{"type":"invoice.payment_failed"}');
    await page.click("#send-edited");
    await page.waitForFunction(() => document.querySelectorAll("#rows tr.replay").length === 2);
    await page.locator("#response-body pre").waitFor();
    await eventually(async () => ((await page.locator("#response-body pre").textContent()) ?? "").includes('"bodyLength": 33') || undefined);

    // Markup in a path, a header and a body is shown as text and runs nothing.
    const evil = "<script>alert(1)</script>";
    const body = `<img src=x onerror=alert(3)>${evil}`;
    const answer = await rawRequest(entry.port, [
      `POST /echo?q=${evil} HTTP/1.1\r\nHost: ${session}.localhost:${entry.port}\r\nX-Evil: ${evil}<img src=x onerror=alert(2)>\r\n` +
      `Content-Type: text/html\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    ]);
    expect(answer).toStartWith("HTTP/1.1 200");
    // A Bun entry passes the path on percent-encoded (%3Cscript%3E), a Deno entry as sent: either way it is text here.
    const evilRow = page.locator("#rows tr", { hasText: "alert(1)" });
    await evilRow.waitFor({ timeout: 5000 });
    await evilRow.click();
    await page.waitForFunction(() => document.getElementById("request-head")?.textContent?.includes("x-evil"));
    expect(await page.locator("#request-head").textContent()).toContain(`x-evil: ${evil}<img src=x onerror=alert(2)>`);
    expect(await page.locator("#detail-title").textContent()).toMatch(/\/echo\?q=(<|%3C)script(>|%3E)alert\(1\)/);
    expect(await page.locator("#request-body pre.text").textContent()).toBe(body);
    expect(await page.locator("script").count()).toBe(1); // the page's own
    expect(await page.locator("img").count()).toBe(0);
    await Bun.sleep(200);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  }, 45_000);
});
