import { Hono } from "hono";
import { CloseCode, CONNECT_PATH } from "../protocol/constants.ts";
import type { EntryConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { EntryBindings } from "./entry-runtime.ts";
import { DashboardFeed } from "../metrics/dashboard-feed.ts";
import { MemoryMetrics, UNKNOWN_SESSION } from "../metrics/entry-metrics.ts";
import { residentBytes } from "../metrics/resident-bytes.ts";
import { addDashboardRoutes } from "./dashboard-routes.ts";
import { type LiveSession, prometheusText } from "../metrics/prometheus-text.ts";
import { HeadDeadlines } from "./head-deadlines.ts";
import { hostName, isValidHost, sessionFromHostName, urlNamesHost } from "./host.ts";
import { type EntryState, errorResponse, type ProxyDeps, proxyRequest } from "./proxy.ts";
import { RateLimits } from "./rate-limits.ts";
import { SessionTokenVerifier } from "./session-token.ts";
import type { SessionRegistry } from "./session-registry.ts";
import { Uplink } from "./uplink.ts";
import { isWebSocketUpgrade, proxyWebSocket } from "./websocket-proxy.ts";

/** Everything the entry app is built from. */
export interface EntryAppDeps {
  config: EntryConfig;
  registry: SessionRegistry;
  log: Logger;
  /** The port actually listened on (known once serving; differs from config with port 0). */
  listenPort: () => number;
  /** Entry-wide state: draining. */
  state: EntryState;
}

/** The entry's request handler: the data plane by Host, the Hono control-plane app otherwise. */
export interface EntryHandler {
  app: Hono<{ Bindings: EntryBindings }>;
  fetch(request: Request, env: EntryBindings): Response | Promise<Response>;
  /** Stops the entry's timers. */
  close(): void;
}

/** Compares two strings in time independent of where they differ. */
function timingSafeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** A client pings every 5 s; an uplink silent this long is dead even if TCP has not noticed. */
const UPLINK_SILENCE_MS = 15_000;

/**
 * Builds the entry. Session hosts go straight to the proxy: Hono's router
 * cost a tenth of the entry's time per proxied request, and the data plane
 * has nothing to route. Every other Host reaches the Hono app.
 */
export function createEntryApp(deps: EntryAppDeps): EntryHandler {
  const { config, registry, log } = deps;
  const publicUrl = (session: string) => {
    const port = deps.listenPort();
    const portSuffix = port === 80 || port === 443 ? "" : `:${port}`;
    return `${config.publicScheme}://${session}.${config.domain}${portSuffix}`;
  };
  const app = new Hono<{ Bindings: EntryBindings }>();
  const proxyDeps: ProxyDeps = {
    config,
    registry,
    deadlines: new HeadDeadlines(config.requestTimeoutMs),
    state: deps.state,
    rateLimits: RateLimits.create(config.rateLimit, config.tiers),
  };
  deps.state.webSockets ??= new Set();
  const proxyOrBadGateway = async (request: Request, session: string, env: EntryBindings): Promise<Response> => {
    try {
      return isWebSocketUpgrade(request)
        ? await proxyWebSocket(request, session, env, proxyDeps)
        : await proxyRequest(request, session, env, proxyDeps);
    } catch (err) {
      log.error("proxy failed", { session, error: (err as Error).message });
      return errorResponse(502, `Bad gateway: session "${session}": internal error`);
    }
  };
  const verifier = config.secret ? new SessionTokenVerifier(config.secret) : undefined;
  // Counters only for sessions with an uplink (and, bounded, recently gone ones): random Hosts count as one.
  const metrics = new MemoryMetrics({ isLive: (session) => registry.get(session) !== undefined });
  /** Open visitor WebSockets by session. */
  const webSocketCounts = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const ws of deps.state.webSockets ?? []) counts.set(ws.session, (counts.get(ws.session) ?? 0) + 1);
    return counts;
  };
  const live = (): LiveSession[] => {
    const webSockets = webSocketCounts();
    return registry.all().map((session) => {
      const uplinks = [...session.uplinks];
      const sum = (f: (u: Uplink) => number) => uplinks.reduce((n, u) => n + f(u), 0);
      return {
        name: session.name,
        uplinks: uplinks.length,
        activeStreams: sum((u) => u.activeStreams),
        webSockets: webSockets.get(session.name) ?? 0,
        queuedBytes: sum((u) => u.mux?.queuedBytes ?? 0),
        bytesToVisitor: sum((u) => u.mux?.bytesIn ?? 0),
        bytesToTarget: sum((u) => u.mux?.bytesOut ?? 0),
        stalls: sum((u) => u.mux?.stalls ?? 0),
      };
    });
  };

  // Control-plane pages and APIs (not /healthz, not the uplink endpoint) may require DASHBOARD_TOKEN.
  if (config.dashboardToken) {
    const expected = config.dashboardToken;
    app.use("*", async (c, next) => {
      if (c.req.path === "/healthz" || c.req.path === CONNECT_PATH) return await next();
      const auth = c.req.header("authorization") ?? "";
      const bearer = auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
      let basic: string | undefined;
      try {
        basic = auth.startsWith("Basic ") ? atob(auth.slice(6)).split(":").slice(1).join(":") : undefined;
      } catch {
        basic = undefined; // not base64: treated as no credentials
      }
      if ((bearer ?? basic) !== undefined && timingSafeEqual(bearer ?? basic!, expected)) return await next();
      return c.text("Unauthorized: this entry's dashboard needs DASHBOARD_TOKEN (Bearer, or Basic with any user)\n", 401, {
        "www-authenticate": 'Basic realm="tunnel2"',
      });
    });
  }

  app.get(CONNECT_PATH, (c) => {
    if (deps.state.draining) {
      metrics.uplinkRejected("draining");
      return errorResponse(503, "Service unavailable: the tunnel entry is shutting down");
    }
    const uplink = new Uplink({ config, registry, log, publicUrl, verifier, metrics });
    const response = c.env.upgradeUplink(uplink);
    return response ?? errorResponse(426, "Upgrade required: this is the tunnel2 uplink endpoint (WebSocket)");
  });

  app.get("/healthz", (c) => (deps.state.draining ? c.text("draining", 503) : c.text("ok")));

  app.get("/metrics", (c) =>
    c.body(prometheusText(metrics, live(), residentBytes()), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));

  app.get("/api/sessions", (c) => {
    const webSockets = webSocketCounts();
    return c.json({
      sessions: registry.all().map((session) => ({
        name: session.name,
        url: publicUrl(session.name),
        lastMinute: metrics.recent(session.name),
        webSockets: webSockets.get(session.name) ?? 0,
        uplinks: [...session.uplinks].map((u) => ({
          id: u.id,
          connectedAt: new Date(u.connectedAt).toISOString(),
          activeStreams: u.activeStreams,
          queuedBytes: u.mux?.queuedBytes ?? 0,
          framesSent: u.mux?.writer.frames ?? 0,
          messagesSent: u.mux?.writer.messages ?? 0,
        })),
      })),
      /** Requests to Hosts naming no live or recently gone session, all counted together. */
      unknownSessions: {
        requests: metrics.session(UNKNOWN_SESSION)?.duration.count ?? 0,
        lastMinute: metrics.recent(UNKNOWN_SESSION),
      },
    });
  });

  const feed = new DashboardFeed(metrics, live, residentBytes);
  const endFeeds = addDashboardRoutes(app, feed, {
    onCut: (reason, readers) => log.info("dashboard feed reader cut", { reason, readers }),
  });
  const feedTimer = setInterval(() => feed.tick(), 1000);
  (feedTimer as { unref?: () => void }).unref?.();

  app.notFound((c) => c.text(`Not found: ${c.req.path}\n`, 404));
  app.onError((err, c) => {
    log.error("request failed", { path: c.req.path, error: err.message });
    return errorResponse(500, "Internal error in the tunnel entry");
  });
  const liveness = setInterval(() => {
    const now = Date.now();
    for (const session of registry.all()) {
      for (const uplink of session.uplinks) {
        if (uplink.mux && now - uplink.mux.lastSeen > UPLINK_SILENCE_MS) {
          log.warn("uplink silent, closing", { session: session.name, uplink: uplink.id });
          uplink.close(1001, `No frames for ${UPLINK_SILENCE_MS / 1000} s`);
        } else if (uplink.mux && uplink.mux.writer.stalledMs > UPLINK_SILENCE_MS) {
          // Frames arrive but ours are not read: pings alone must not keep such an uplink.
          log.warn("uplink not reading, closing", { session: session.name, uplink: uplink.id });
          uplink.close(CloseCode.NotReading, `Nothing read for ${UPLINK_SILENCE_MS / 1000} s`);
        }
      }
    }
  }, 5_000);
  (liveness as { unref?: () => void }).unref?.();

  return {
    app,
    close: () => {
      clearInterval(liveness);
      clearInterval(feedTimer);
      endFeeds();
      metrics.close();
    },
    async fetch(request, env) {
      const host = request.headers.get("host");
      if (host === null) return app.fetch(request, env);
      if (!isValidHost(host)) {
        return errorResponse(400, "Bad request: the Host header must be a host name with an optional numeric port");
      }
      const name = hostName(host);
      const session = sessionFromHostName(name, config.domain);
      if (session === undefined) return app.fetch(request, env);
      if (!urlNamesHost(request.url, name)) {
        return errorResponse(400, "Bad request: an absolute-form request target must name the Host it is sent to");
      }
      if (!config.metrics) return await proxyOrBadGateway(request, session, env);
      const started = performance.now();
      const response = await proxyOrBadGateway(request, session, env);
      metrics.request(session, response.status, performance.now() - started);
      return response;
    },
  };
}
