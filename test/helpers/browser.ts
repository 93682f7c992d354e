/**
 * Headless Chromium from the system (Debian `chromium`), driven by
 * playwright-core. Never a downloaded browser: without one, tests skip.
 */
import { existsSync, mkdirSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** The Chromium binary, or undefined when none is installed. */
export const chromiumPath: string | undefined = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]
  .find((p): p is string => !!p && existsSync(p));

export const NO_CHROMIUM_MESSAGE = "SKIPPED: no Chromium found (install Debian's `chromium`, or set CHROMIUM_PATH); browser tests did not run";

/** Where tests leave screenshots (gitignored). */
export const ARTIFACTS = join(import.meta.dir, "..", "artifacts");

const open = new Set<BrowserContext>();

/** Closes every browser {@linkcode openBrowser} opened (for afterEach). */
export async function closeBrowsers(): Promise<void> {
  await Promise.all([...open].map((b) => b.close()));
  open.clear();
}

/** Opens a fresh headless browser profile; {@linkcode closeBrowsers} closes it. */
export async function openBrowser(options: { httpCredentials?: { username: string; password: string } } = {}): Promise<BrowserContext> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "tunnel2-chromium-"));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    // Its crash reports and caches go with the profile, not into the user's ~/.config and ~/.cache.
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: join(profile, "config"), XDG_CACHE_HOME: join(profile, "cache") },
    headless: true,
    viewport: { width: 1440, height: 900 },
    ...options,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  open.add(browser);
  return browser;
}
