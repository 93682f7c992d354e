/**
 * Runs the tunnel2 entry (`tunnel2 serve`, `bun run src/server.ts`, `deno
 * task serve`) until a signal drains and stops it. Settings come from flags
 * and environment (see `config.ts`).
 */
import process from "node:process";
import { entryConfig, readConfigOrExit } from "../config/config.ts";
import { createEntryApp } from "../entry/entry-app.ts";
import type { EntryState } from "../entry/proxy.ts";
import type { EntryRuntime, ServerHandle } from "../runtime/entry-runtime.ts";
import { drainEntry } from "../entry/drain.ts";
import { VisitorWebSockets } from "../entry/visitor-web-sockets.ts";
import { SessionRegistry } from "../entry/session-registry.ts";
import { createLogger, type Logger } from "../log.ts";
import { runtimeName } from "../runtime/runtime-name.ts";
import type { EntryCluster } from "../entry/entry-cluster.ts";
import type { ClientRuntime } from "../runtime/client-runtime.ts";
import { hostname as machineName } from "node:os";

async function loadRuntime(): Promise<EntryRuntime> {
  return runtimeName() === "bun"
    ? (await import("../adapter/bun/serve.ts")).bunEntryRuntime
    : (await import("../adapter/deno/serve.ts")).denoEntryRuntime;
}

/** The runtime's way of sending HTTP without decompressing (the client's target fetch), for forwarding to other entries. */
async function loadPeerFetch(): Promise<ClientRuntime> {
  return runtimeName() === "bun"
    ? (await import("../adapter/bun/target-fetch.ts")).bunClientRuntime
    : (await import("../adapter/deno/target-fetch.ts")).denoClientRuntime;
}

/**
 * Without TUNNEL_PEER_URL (and off Fly): the listen address when it is a
 * specific one, else this machine's host name (loopback when the runtime may
 * not read it: Deno without --allow-sys).
 */
function defaultPeerUrl(listenHost: string, port: number, tls: boolean, log: Logger): string {
  const wildcard = listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "";
  let host = listenHost;
  if (wildcard) {
    try {
      host = machineName();
    } catch (err) {
      host = "127.0.0.1";
      log.warn("cannot read this machine's host name: other entries are told 127.0.0.1; set TUNNEL_PEER_URL", {
        error: (err as Error).message,
      });
    }
  }
  return `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * A signal delivered again within this long is the same one: `deno task`
 * forwards the terminal's Ctrl-C to the entry, which also gets it from the
 * terminal, and a process-group SIGTERM arrives the same way. Only a signal
 * sent later means "exit now".
 */
const SAME_SIGNAL_MS = 1000;

/** Starts the entry with these flags; resolves once it listens (it stops on SIGTERM/SIGINT). */
export async function runEntry(args: string[]): Promise<void> {
  const config = readConfigOrExit(() => entryConfig(args, process.env));
  const log = createLogger(config.logFormat);
  const runtime = await loadRuntime();
  const registry = new SessionRegistry();
  const state: EntryState = { draining: false, webSockets: new VisitorWebSockets() };
  let server: ServerHandle | undefined;
  const entry = createEntryApp({ config, registry, log, state, listenPort: () => server?.port ?? config.port });
  try {
    server = await runtime.serve({
      port: config.port,
      hostname: config.hostname,
      fetch: entry.fetch,
      idleTimeoutS: config.idleTimeoutS,
      log,
      tls: config.tls,
    });
  } catch (err) {
    log.error("cannot listen", { address: `${config.hostname}:${config.port}`, error: (err as Error).message });
    process.exit(1);
  }
  let tcpListeners: import("../entry/tcp-listeners.ts").TcpListeners | undefined;
  if (config.tcpPorts || config.tlsPassthroughPort !== undefined) {
    const { TcpListeners } = await import("../entry/tcp-listeners.ts");
    try {
      tcpListeners = await TcpListeners.start({ front: entry.tcp, hostname: config.hostname, domain: config.domain, tlsPort: config.tlsPassthroughPort, log });
    } catch (err) {
      log.error((err as Error).message);
      process.exit(1);
    }
    log.info("tcp tunnels on", {
      ...(config.tcpPorts ? { ports: `${config.tcpPorts.start}-${config.tcpPorts.end}` } : {}),
      ...(config.tlsPassthroughPort !== undefined ? { tlsPassthroughPort: config.tlsPassthroughPort } : {}),
    });
  }
  const scheme = config.tls ? "https" : "http";
  log.info("entry listening", {
    runtime: runtime.name,
    address: `${scheme}://${config.hostname}:${server.port}`,
    sessions: entry.publicUrl("<session>"),
  });
  if (config.secret) {
    log.info("token auth on: clients need HMAC-SHA256(TUNNEL_SECRET, session) as their token");
  } else {
    log.warn("OPEN DEVELOPMENT MODE: TUNNEL_SECRET is not set, so any client may claim any session with any token");
    if (config.hostname === "127.0.0.1" && !config.hostnameGiven) {
      log.info("listening on loopback only (no TUNNEL_SECRET): set --hostname 0.0.0.0 (HOSTNAME) to take visitors and clients from other machines, and TUNNEL_SECRET with it");
    }
  }
  if (!config.dashboardToken) {
    log.warn(
      "PUBLIC DASHBOARD: DASHBOARD_TOKEN is not set, so the dashboard (/), /metrics and /api/* are open to anyone who can reach this entry (session names, traffic, memory)",
    );
  }
  if (config.signOn && config.secret) {
    // Loaded only when configured: the OpenID Connect library stays out of every other entry.
    const { OidcSignOn } = await import("../entry/oidc-sign-on.ts");
    const port = config.publicPort ?? server.port;
    const controlOrigin = `${config.publicScheme}://${config.domain}${port === 80 || port === 443 ? "" : `:${port}`}`;
    try {
      entry.attachSignOn(await OidcSignOn.discover({ ...config.signOn, controlOrigin, secret: config.secret, secure: config.publicScheme === "https" }));
    } catch (err) {
      log.error((err as Error).message);
      process.exit(1);
    }
    log.info("sign-on on", { issuer: config.signOn.issuer.href, redirect_uri: `${controlOrigin}/_tunnel/oidc/callback` });
  }
  let cluster: EntryCluster | undefined;
  if (config.cluster) {
    const peerUrl = config.cluster.peerUrl ?? defaultPeerUrl(config.hostname, server.port, config.tls !== undefined, log);
    const { startCluster } = await import("./start-cluster.ts");
    const peerRuntime = await loadPeerFetch();
    cluster = startCluster({
      config,
      cluster: config.cluster,
      peerUrl,
      fetchPeer: peerRuntime.createTargetFetch(),
      webSockets: state.webSockets,
      log,
    });
    entry.attachCluster(cluster);
    log.info("sharing sessions through redis", {
      instance: config.cluster.instanceId,
      peerUrl,
      flyReplay: config.cluster.flyMachineId ? "on" : "off",
      ...(config.cluster.peerUrl ? {} : { note: "derived: set TUNNEL_PEER_URL if other entries reach this one elsewhere" }),
    });
  }
  const running = server;
  let stoppingSince = 0;
  const stop = async (signal: string) => {
    if (stoppingSince !== 0) {
      if (Date.now() - stoppingSince < SAME_SIGNAL_MS) return; // the same Ctrl-C, delivered twice
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info("entry stopping", { signal, drainTimeoutMs: config.drainTimeoutMs });
    // Leave the directory first: other entries stop sending requests here while clients move away.
    await cluster?.close();
    await tcpListeners?.close();
    await drainEntry({
      registry,
      state,
      server: running,
      log,
      timeoutMs: config.drainTimeoutMs,
      endFeeds: entry.endFeeds,
      endless: (uplink) => entry.tcp.openOn(uplink),
    });
    entry.close();
    log.info("entry stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
