import type { Hono } from "hono";
import type { DashboardFeed } from "../metrics/dashboard-feed.ts";
import { LiveFeed, type LiveFeedOptions } from "./live-feed.ts";
import { type Asset, CSS, HTML, JS, serveAsset } from "../web/static-asset.ts";

/*
 * The files are text imports with literal specifiers, loaded on first use:
 * Bun and Deno read them from disk when run from the sources or an installed
 * package, and `bun build --compile` / `deno compile` embed them in the
 * single-file executable (nothing is read from disk there). uPlot comes from
 * its npm package (no CDN, no build step of ours).
 */

/** Served under /dashboard/. */
const ASSETS: Record<string, Asset | undefined> = {
  "dashboard.js": { load: () => import("./dashboard/dashboard.js", { with: { type: "text" } }), type: JS },
  "dashboard.css": { load: () => import("../web/dashboard.css", { with: { type: "text" } }), type: CSS },
  "uPlot.iife.min.js": { load: () => import("uplot/dist/uPlot.iife.min.js", { with: { type: "text" } }), type: JS },
  "uPlot.min.css": { load: () => import("uplot/dist/uPlot.min.css", { with: { type: "text" } }), type: CSS },
};
const PAGE: Asset = { load: () => import("./dashboard/index.html", { with: { type: "text" } }), type: HTML };
const UPLOT_HINT = " (uPlot comes from node_modules: run `npm ci`)";

/**
 * The live dashboard: the page at `/`, its files under `/dashboard/`, and
 * `/api/live`, a server-sent-events feed (the last minutes first, then one
 * point a second) with a bounded number of readers that share one encoding
 * of it (see {@linkcode LiveFeed}). Returns the feeds' count and a function that ends them all.
 */
export function addDashboardRoutes<E extends object>(
  app: Hono<E>,
  feed: DashboardFeed,
  options: LiveFeedOptions = {},
): { readers: () => number; end: () => void } {
  const live = new LiveFeed(feed, options);
  app.get("/", () => serveAsset(PAGE, "dashboard/index.html"));
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/dashboard/:file", (c) => {
    const name = c.req.param("file");
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    return asset ? serveAsset(asset, `dashboard/${name}`, {}, name.startsWith("uPlot") ? UPLOT_HINT : "") : c.text(`Not found: ${c.req.path}\n`, 404);
  });
  app.get("/api/live", (c) => {
    const body = live.open();
    if (!body && live.closed) {
      return c.text("Service unavailable: this entry is shutting down; the dashboard reconnects once an entry answers\n", 503, { "retry-after": "5" });
    }
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
  return { readers: () => live.readers, end: () => live.close() };
}
