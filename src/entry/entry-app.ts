import { Hono } from "hono";
import { CONNECT_PATH, SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import type { EntryConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import type { EntryBindings } from "./entry-runtime.ts";
import { errorResponse, proxyRequest } from "./proxy.ts";
import type { SessionRegistry } from "./session-registry.ts";
import { Uplink } from "./uplink.ts";

/** Everything the entry app is built from. */
export interface EntryAppDeps {
  config: EntryConfig;
  registry: SessionRegistry;
  log: Logger;
  /** The port actually listened on (known once serving; differs from config with port 0). */
  listenPort: () => number;
}

/**
 * The session a Host names, or undefined for the control plane:
 * `<session>.<domain>` with or without a port.
 */
export function sessionFromHost(host: string | null, domain: string): string | undefined {
  if (!host) return undefined;
  let name = host.toLowerCase();
  const colon = name.lastIndexOf(":");
  if (colon !== -1 && !name.endsWith("]")) name = name.slice(0, colon);
  if (!name.endsWith(domain) || name.length <= domain.length + 1) return undefined;
  if (name.charCodeAt(name.length - domain.length - 1) !== 46 /* . */) return undefined;
  const label = name.slice(0, name.length - domain.length - 1);
  return SESSION_NAME_PATTERN.test(label) ? label : undefined;
}

/** Builds the entry's Hono app: data plane by Host, control plane otherwise. */
export function createEntryApp(deps: EntryAppDeps): Hono<{ Bindings: EntryBindings }> {
  const { config, registry, log } = deps;
  const publicUrl = (session: string) => {
    const port = deps.listenPort();
    const portSuffix = port === 80 || port === 443 ? "" : `:${port}`;
    return `${config.publicScheme}://${session}.${config.domain}${portSuffix}`;
  };
  const app = new Hono<{ Bindings: EntryBindings }>();

  // Data plane first: a session Host never reaches the control-plane routes.
  app.use("*", async (c, next) => {
    const session = sessionFromHost(c.req.header("host") ?? null, config.domain);
    if (session === undefined) return next();
    return await proxyRequest(c.req.raw, session, c.env.remoteAddress, { config, registry });
  });

  app.get(CONNECT_PATH, (c) => {
    const uplink = new Uplink({ config, registry, log, publicUrl });
    const response = c.env.upgradeUplink(uplink);
    return response ?? errorResponse(426, "Upgrade required: this is the tunnel2 uplink endpoint (WebSocket)");
  });

  app.get("/healthz", (c) => c.text("ok"));

  app.get("/api/sessions", (c) =>
    c.json({
      sessions: registry.all().map((session) => ({
        name: session.name,
        url: publicUrl(session.name),
        uplinks: [...session.uplinks].map((u) => ({
          id: u.id,
          connectedAt: new Date(u.connectedAt).toISOString(),
          activeStreams: u.activeStreams,
          queuedBytes: u.mux?.queuedBytes ?? 0,
        })),
      })),
    }));

  app.notFound((c) => c.text(`Not found: ${c.req.path}\n`, 404));
  app.onError((err, c) => {
    log.error("request failed", { path: c.req.path, error: err.message });
    return errorResponse(500, "Internal error in the tunnel entry");
  });
  return app;
}
