import type { Hono } from "hono";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { DashboardFeed } from "../metrics/dashboard-feed.ts";
import { LiveFeed, type LiveFeedOptions } from "./live-feed.ts";

/** A static file of the dashboard: where it is and what it is served as. */
interface Asset {
  /** Undefined when the file cannot be found (uPlot not installed). */
  url: URL | undefined;
  type: string;
}

const require = createRequire(import.meta.url);

function uplotAsset(file: string): URL | undefined {
  try {
    return pathToFileURL(require.resolve(`uplot/dist/${file}`));
  } catch {
    return undefined;
  }
}

/** Served under /dashboard/: our page's files, and uPlot from its npm package (no CDN, no build). */
const ASSETS: Record<string, Asset | undefined> = {
  "dashboard.js": { url: new URL("./dashboard/dashboard.js", import.meta.url), type: "text/javascript; charset=utf-8" },
  "dashboard.css": { url: new URL("./dashboard/dashboard.css", import.meta.url), type: "text/css; charset=utf-8" },
  "uPlot.iife.min.js": { url: uplotAsset("uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "uPlot.min.css": { url: uplotAsset("uPlot.min.css"), type: "text/css; charset=utf-8" },
};
const PAGE: Asset = { url: new URL("./dashboard/index.html", import.meta.url), type: "text/html; charset=utf-8" };

const cache = new Map<string, Uint8Array<ArrayBuffer>>();

function serveAsset(asset: Asset | undefined, name: string): Response {
  if (!asset?.url) {
    return new Response(`Dashboard file ${name} is missing: run \`npm ci\` (uPlot comes from node_modules)\n`, { status: 500 });
  }
  let bytes = cache.get(asset.url.href);
  if (!bytes) {
    try {
      bytes = new Uint8Array(readFileSync(asset.url));
    } catch (err) {
      return new Response(`Dashboard file ${name} cannot be read: ${(err as Error).message}\n`, { status: 500 });
    }
    cache.set(asset.url.href, bytes);
  }
  return new Response(bytes, { headers: { "content-type": asset.type, "cache-control": "no-cache" } });
}

/**
 * The live dashboard: the page at `/`, its files under `/dashboard/`, and
 * `/api/live`, a server-sent-events feed (the last minutes first, then one
 * point a second) with a bounded number of readers that share one encoding
 * of it (see {@linkcode LiveFeed}). Returns a function that ends every open feed.
 */
export function addDashboardRoutes<E extends object>(app: Hono<E>, feed: DashboardFeed, options: LiveFeedOptions = {}): () => void {
  const live = new LiveFeed(feed, options);
  app.get("/", () => serveAsset(PAGE, "index.html"));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/dashboard/:file", (c) => {
    const name = c.req.param("file");
    return Object.hasOwn(ASSETS, name) ? serveAsset(ASSETS[name], name) : c.text(`Not found: ${c.req.path}\n`, 404);
  });
  app.get("/api/live", (c) => {
    const body = live.open();
    if (!body) {
      return c.text(
        `Service unavailable: ${live.readers} live dashboard feeds are open, the most this entry serves; close one or retry later\n`,
        503,
        { "retry-after": "10" },
      );
    }
    return new Response(body, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" },
    });
  });
  return () => live.close();
}
