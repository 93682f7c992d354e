import { Hono } from "hono";
import { constantTimeEqualText } from "../access/constant-time.ts";
import { CloseCode, CONNECT_PATH, TCP_CONNECT_PATH, UPLINK_SESSION_HEADER } from "../protocol/constants.ts";
import type { EntryConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { DashboardFeed } from "../metrics/dashboard-feed.ts";
import { MemoryMetrics, UNKNOWN_SESSION } from "../metrics/entry-metrics.ts";
import { residentBytes } from "../metrics/resident-bytes.ts";
import { addDashboardRoutes } from "./dashboard-routes.ts";
import { MAX_LIVE_READERS } from "./live-feed.ts";
import { type LiveSession, prometheusText } from "../metrics/prometheus-text.ts";
import { HeadDeadlines } from "./head-deadlines.ts";
import { hostName, isValidHost, sessionFromHostName, urlNamesHost } from "./host.ts";
import { errorResponse } from "./error-response.ts";
import { type EntryState, type ProxyDeps, proxyRequest } from "./proxy.ts";
import { RateLimits } from "./rate-limits.ts";
import { SessionTokenVerifier } from "./session-token.ts";
import type { SessionRegistry } from "./session-registry.ts";
import { Uplink } from "./uplink.ts";
import { checkUplinkClaim } from "./uplink-claim.ts";
import { isWebSocketUpgrade, proxyWebSocket } from "./websocket-proxy.ts";
import { behindTrustedProxy } from "./visitor-address.ts";
import type { EntryCluster } from "./entry-cluster.ts";
import { PEER_FROM, PEER_NOT_HELD } from "./peer-headers.ts";
import type { RuleSummary } from "../access/access-rules.ts";
import { OIDC_CALLBACK_PATH, type SignOn } from "./sign-on.ts";
import { WebhookBuffers } from "./access-gate.ts";
import { TcpFront } from "./tcp-front.ts";
import { addTcpConnectRoute } from "./tcp-connect-route.ts";

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
  /** Joins a cluster of entries (REDIS_URL): sessions held elsewhere are replayed or forwarded there. */
  attachCluster(cluster: EntryCluster): void;
  /** Signs on visitors of sessions whose tunnel asks for it (TUNNEL_OIDC_ISSUER), once the provider is discovered. */
  attachSignOn(signOn: SignOn): void;
  /** The URL a session answers at, as clients are told it. */
  publicUrl(session: string): string;
  /** Ends every open /api/live stream (draining: they never end by themselves). */
  endFeeds(): void;
  /** TCP and TLS tunnels: their ports and connections. */
  tcp: TcpFront;
  /** Stops the entry's timers. */
  close(): void;
}


/** A session's rules as /api/sessions lists them (its newest uplink's, enforced on all); null when everyone may reach it. */
function accessOf(newest: Uplink): { own: RuleSummary; floor?: RuleSummary } | null {
  const access = newest.access;
  return access ? { own: access.own, ...(access.floor ? { floor: access.floor } : {}) } : null;
}

/** A TCP or TLS tunnel as /api/sessions shows it. */
function tunnelOf(newest: Uplink): { kind: "tcp" | "tls"; port?: number; private?: true } | null {
  const tunnel = newest.tunnel;
  if (!tunnel) return null;
  const port = tunnel.kind === "tcp" && !tunnel.private ? Number(new URL(newest.url).port) : undefined;
  return { kind: tunnel.kind, ...(port ? { port } : {}), ...(tunnel.private ? { private: true as const } : {}) };
}

/** The cluster's lines of /metrics: Redis state, entries alive, requests for sessions held elsewhere. */
function clusterMetricsText(cluster: EntryCluster, entries: number | undefined): string {
  const counts = cluster.counts();
  const instance = cluster.instanceId;
  return [
    "# HELP tunnel2_redis_up Whether the session directory (Redis) is reachable from this entry.",
    "# TYPE tunnel2_redis_up gauge",
    `tunnel2_redis_up{instance="${instance}"} ${cluster.storeUp ? 1 : 0}`,
    "# HELP tunnel2_cluster_entries Entries alive in the session directory (absent while Redis is down).",
    "# TYPE tunnel2_cluster_entries gauge",
    ...(entries === undefined ? [] : [`tunnel2_cluster_entries ${entries}`]),
    "# HELP tunnel2_cluster_requests_total Requests for sessions held by another entry: replayed (fly-replay), forwarded, or received from another entry.",
    "# TYPE tunnel2_cluster_requests_total counter",
    `tunnel2_cluster_requests_total{way="replayed"} ${counts.replayed}`,
    `tunnel2_cluster_requests_total{way="forwarded"} ${counts.forwarded}`,
    `tunnel2_cluster_requests_total{way="received"} ${counts.received}`,
    "",
  ].join("\n");
}

/**
 * Builds the entry. Session hosts go straight to the proxy: Hono's router
 * cost a tenth of the entry's time per proxied request, and the data plane
 * has nothing to route. Every other Host reaches the Hono app.
 */
export function createEntryApp(deps: EntryAppDeps): EntryHandler {
  const { config, registry, log } = deps;
  const publicUrl = (session: string) => {
    const port = config.publicPort ?? deps.listenPort();
    const portSuffix = port === (config.publicScheme === "https" ? 443 : 80) ? "" : `:${port}`;
    return `${config.publicScheme}://${session}.${config.domain}${portSuffix}`;
  };
  const app = new Hono<{ Bindings: EntryBindings }>();
  const proxyDeps: ProxyDeps = {
    config,
    registry,
    deadlines: new HeadDeadlines(config.requestTimeoutMs),
    state: deps.state,
    rateLimits: RateLimits.create(config.rateLimit, config.tiers),
    refused: (session, reason) => metrics.refused(session, reason),
    webhookBuffers: new WebhookBuffers(),
  };
  const controlOrigin = () => {
    const port = config.publicPort ?? deps.listenPort();
    const portSuffix = port === (config.publicScheme === "https" ? 443 : 80) ? "" : `:${port}`;
    return `${config.publicScheme}://${config.domain}${portSuffix}`;
  };
  const tcp = new TcpFront({
    config,
    registry,
    state: deps.state,
    rateLimits: () => proxyDeps.rateLimits,
    refused: (session, reason) => metrics.refused(session, reason),
    log,
    publicHost: () => config.domain,
    connectUrl: (session) => `${controlOrigin()}${TCP_CONNECT_PATH}${session}`,
  });
  let cluster: EntryCluster | undefined;
  /**
   * A session request, here or (with a cluster, when no uplink of the
   * session is here) at the entry that holds it; `from` names the entry that
   * forwarded it. Whatever goes wrong is this request's 502 alone.
   */
  const proxyOrBadGateway = async (
    request: Request,
    host: string,
    session: string,
    env: EntryBindings,
    from: string | undefined,
  ): Promise<Response> => {
    try {
      const tunnel = registry.get(session)?.newest;
      if (tunnel?.tunnel) {
        return errorResponse(404, `Not found: session "${session}" is a ${tunnel.tunnel.kind.toUpperCase()} tunnel, not a web app: connect to ${tunnel.url}`);
      }
      if (cluster && registry.pick(session) === undefined) return await cluster.elsewhere(request, host, session, env, from);
      return isWebSocketUpgrade(request)
        ? await proxyWebSocket(request, session, env, proxyDeps)
        : await proxyRequest(request, session, env, proxyDeps);
    } catch (err) {
      log.error("proxy failed", { session, error: (err as Error).message });
      return errorResponse(502, `Bad gateway: session "${session}": internal error`);
    }
  };
  const verifier = config.secret ? new SessionTokenVerifier(config.secret) : undefined;
  // Counters only for sessions with an uplink here or on another entry (and, bounded, recently gone ones): random Hosts count as one.
  const metrics = new MemoryMetrics({
    isLive: (session) => registry.get(session) !== undefined || cluster?.heldElsewhere(session) === true,
  });
  /** Open visitor WebSockets by session. */
  const webSocketCounts = (): Map<string, number> => {
    const counts = new Map<string, number>();
    for (const ws of deps.state.webSockets.open) counts.set(ws.session, (counts.get(ws.session) ?? 0) + 1);
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
        tcpConnections: tcp.stats(session.name)?.open ?? 0,
        tcpConnectionsTotal: tcp.stats(session.name)?.total ?? 0,
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
      if (c.req.path === "/healthz" || c.req.path === CONNECT_PATH || c.req.path === OIDC_CALLBACK_PATH || c.req.path.startsWith(TCP_CONNECT_PATH)) {
        return await next();
      }
      const auth = c.req.header("authorization") ?? "";
      const bearer = auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
      let basic: string | undefined;
      try {
        basic = auth.startsWith("Basic ") ? atob(auth.slice(6)).split(":").slice(1).join(":") : undefined;
      } catch {
        basic = undefined; // not base64: treated as no credentials
      }
      if ((bearer ?? basic) !== undefined && constantTimeEqualText(bearer ?? basic!, expected)) return await next();
      return c.text("Unauthorized: this entry's dashboard needs DASHBOARD_TOKEN (Bearer, or Basic with any user)\n", 401, {
        "www-authenticate": 'Basic realm="tunnel2"',
      });
    });
  }

  app.get(CONNECT_PATH, async (c) => {
    if (deps.state.draining) {
      metrics.uplinkRejected("draining");
      return errorResponse(503, "Service unavailable: the tunnel entry is shutting down");
    }
    const claim = await checkUplinkClaim(c.req.raw, { config, registry, verifier });
    if (claim instanceof Response) {
      const why = claim.status === 400 ? "bad_session_name" : claim.status === 429 ? "too_many_uplinks" : "bad_token";
      metrics.uplinkRejected(why);
      log.warn("uplink refused", { session: c.req.header(UPLINK_SESSION_HEADER)?.slice(0, 63), reason: why });
      return claim;
    }
    const uplink = new Uplink({ config, registry, log, publicUrl, metrics, authorizedSession: claim, tunnels: tcp });
    const response = c.env.upgradeUplink(uplink);
    return response ?? errorResponse(426, "Upgrade required: this is the tunnel2 uplink endpoint (WebSocket)");
  });

  addTcpConnectRoute(app, tcp);

  app.get(OIDC_CALLBACK_PATH, async (c) => {
    if (!proxyDeps.signOn) return errorResponse(404, "Not found: this entry has no sign-on provider (TUNNEL_OIDC_ISSUER)");
    return await proxyDeps.signOn.callback(c.req.raw);
  });

  app.get("/healthz", (c) => (deps.state.draining ? c.text("draining", 503) : c.text("ok")));

  app.get("/metrics", async (c) => {
    let text = prometheusText(metrics, live(), residentBytes());
    text += `# HELP tunnel2_dashboard_feeds Dashboard feeds (/api/live) open; past ${MAX_LIVE_READERS} new ones are answered 503.\n` +
      `# TYPE tunnel2_dashboard_feeds gauge\ntunnel2_dashboard_feeds ${dashboard.readers()}\n`;
    if (cluster) text += clusterMetricsText(cluster, (await cluster.view(0)).directory?.entries.length);
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/api/sessions", async (c) => {
    const webSockets = webSocketCounts();
    return c.json({
      /** Which entry answered, and with Redis where every session is held. */
      ...(cluster ? { instance: cluster.instanceId, cluster: await cluster.view() } : {}),
      sessions: registry.all().map((session) => ({
        name: session.name,
        url: session.newest.tunnel ? session.newest.url : publicUrl(session.name),
        /** A TCP or TLS tunnel: its kind, its public port (tcp) and whether it is private; null for HTTP. */
        tunnel: tunnelOf(session.newest),
        ...(session.newest.tunnel ? { tcp: tcp.stats(session.name) ?? { open: 0, total: 0, bytesIn: 0, bytesOut: 0 } } : {}),
        lastMinute: metrics.recent(session.name),
        webSockets: webSockets.get(session.name) ?? 0,
        /** Who may reach it (without secrets): the tunnel's rules and the operator's floor, as its newest uplink says. */
        access: accessOf(session.newest),
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
  const dashboard = addDashboardRoutes(app, feed, {
    onCut: (reason, readers) => log.info("dashboard feed reader cut", { reason, readers }),
  });
  const feedTimer = setInterval(() => feed.tick(), config.dashboardTickMs);
  (feedTimer as { unref?: () => void }).unref?.();

  app.notFound((c) => c.text(`Not found: ${c.req.path}\n`, 404));
  app.onError((err, c) => {
    log.error("request failed", { path: c.req.path, error: err.message });
    return errorResponse(500, "Internal error in the tunnel entry");
  });
  // An uplink silent for silenceMs (the client pings more often) is dead even if TCP has not noticed.
  const { silenceMs } = config.uplinkTimings;
  const liveness = setInterval(() => {
    const now = Date.now();
    for (const session of registry.all()) {
      for (const uplink of session.uplinks) {
        if (uplink.mux && now - uplink.mux.lastSeen > silenceMs) {
          log.warn("uplink silent, closing", { session: session.name, uplink: uplink.id });
          uplink.close(1001, `No frames for ${silenceMs / 1000} s`);
        } else if (uplink.mux && uplink.mux.writer.stalledMs > silenceMs) {
          // Frames arrive but ours are not read: pings alone must not keep such an uplink.
          log.warn("uplink not reading, closing", { session: session.name, uplink: uplink.id });
          uplink.close(CloseCode.NotReading, `Nothing read for ${silenceMs / 1000} s`);
        }
      }
    }
  }, Math.max(10, Math.floor(silenceMs / 3)));
  (liveness as { unref?: () => void }).unref?.();

  return {
    app,
    attachSignOn(signOn) {
      proxyDeps.signOn = signOn;
    },
    attachCluster(joined) {
      cluster = joined;
      if (joined.rateLimiter) proxyDeps.rateLimits = joined.rateLimiter;
      registry.setEvents(joined);
    },
    publicUrl,
    tcp,
    endFeeds: dashboard.end,
    close: () => {
      clearInterval(liveness);
      clearInterval(feedTimer);
      dashboard.end();
      metrics.close();
    },
    async fetch(request, env) {
      let from: string | undefined;
      if (request.headers.has(PEER_FROM)) {
        if (!cluster && config.cluster) {
          // Listening, but not yet in the directory (starting up): the forwarding entry asks another holder.
          const starting = errorResponse(502, "Bad gateway: this entry is still joining its cluster");
          starting.headers.set(PEER_NOT_HELD, config.cluster.instanceId);
          return starting;
        }
        if (!cluster) {
          return errorResponse(403, "Forbidden: x-tunnel2-peer headers are accepted only between entries of a cluster (REDIS_URL)");
        }
        const received = cluster.receive(request, env);
        if (received instanceof Response) return received;
        ({ request, env, from } = received);
      } else if (config.trustProxy) {
        env = behindTrustedProxy(request, env, config.onFly);
      }
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
      if (!config.metrics) return await proxyOrBadGateway(request, host, session, env, from);
      const started = performance.now();
      const response = await proxyOrBadGateway(request, host, session, env, from);
      metrics.request(session, response.status, performance.now() - started);
      return response;
    },
  };
}
