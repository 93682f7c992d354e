import { readFileSync } from "node:fs";
import process from "node:process";
import { createHash } from "node:crypto";
import type { UplinkTimings } from "../protocol/uplink-timings.ts";
import { MAX_HELLO_BYTES } from "../protocol/constants.ts";
import { CLIENT_OPTIONS, type InspectAddress, tunnelKindOf } from "./client-options.ts";
import type { TunnelKind } from "../protocol/head.ts";
import { ConfigError } from "./config-error.ts";
import { ENTRY_OPTIONS } from "./entry-options.ts";
import { type Flags, programFlags, readOptions, type Values } from "./option-table.ts";
import type { Tier, TierConfig } from "./tiers.ts";
import type { PolicyFloor } from "../access/policy-floor.ts";
import { type AccessRules, hasRules, readAccessRules } from "../access/access-rules.ts";

export { ConfigError } from "./config-error.ts";
export type { InspectAddress } from "./client-options.ts";

/**
 * Entry server settings, read from `ENTRY_OPTIONS` (its flags, variables and
 * defaults) by `entryConfig()`.
 */
export interface EntryConfig {
  /** Listen port. */
  port: number;
  /** Listen address: HOSTNAME, else 0.0.0.0 with a secret and 127.0.0.1 without. */
  hostname: string;
  /** The listen address was given (not the default). */
  hostnameGiven: boolean;
  /** `<session>.<domain>` routes to a session. */
  domain: string;
  /** Time for a response head to arrive, counted from when the request body is sent, before 504. */
  requestTimeoutMs: number;
  /**
   * Seconds a visitor's keep-alive connection may sit idle between requests
   * before the entry closes it; 0 = never. A proxied request's connection is
   * exempt while its response is pending or streaming (requestTimeoutMs
   * bounds the head; a body may stay silent, as SSE does). Uplinks and
   * WebSockets keep their own rules. Bun only: Bun.serve enforces it in steps
   * of about 4 s (at most 255); Deno.serve (2.9) has no connection timeouts,
   * so on Deno it does nothing.
   */
  idleTimeoutS: number;
  /** Concurrent streams per session; above it 503. */
  maxStreamsPerSession: number;
  /** Uplinks one session may hold on this entry (all its clients together); more are refused. */
  maxUplinksPerSession: number;
  /** Hello timeout and silence rule of uplinks. */
  uplinkTimings: UplinkTimings;
  /** Per-stream receive window in bytes. */
  windowBytes: number;
  /** Scheme of public URLs announced to clients: https when serving TLS, else http, unless set. */
  publicScheme: "http" | "https";
  /**
   * Port of public URLs announced to clients (omitted when 80 or 443);
   * undefined = the port the entry listens on. Behind a proxy (Caddy, Fly)
   * it is the proxy's port, e.g. 443.
   */
  publicPort: number | undefined;
  /** HMAC key session tokens derive from; undefined = open development mode. */
  secret: string | undefined;
  /** Request bodies above it get 413; undefined = unlimited. */
  maxBodyBytes: number | undefined;
  /** On SIGTERM/SIGINT, how long in-flight requests may take. */
  drainTimeoutMs: number;
  /** Default per-session rate (requests/s) and burst; undefined = off. */
  rateLimit: Tier | undefined;
  /** Named tiers and their sessions. */
  tiers: TierConfig | undefined;
  /**
   * Sign-on with one OpenID Connect provider, for tunnels that ask for it
   * (--oidc-allow); its redirect URI is the control plane's /_tunnel/oidc/callback.
   */
  signOn: { issuer: URL; clientId: string; clientSecret: string | undefined } | undefined;
  /** The operator's floor of access rules (TUNNEL_POLICY): what every session's visitors must pass, and what its tunnel must set. */
  policy: PolicyFloor | undefined;
  /** When set, control-plane pages and APIs (not /healthz) require it. */
  dashboardToken: string | undefined;
  /** Log lines as text or JSON. */
  logFormat: "text" | "json";
  /** Count requests and time the writer queue (for /metrics and the dashboard). */
  metrics: boolean;
  /** Several entries sharing sessions through Redis; undefined = one process, in memory. */
  cluster: ClusterConfig | undefined;
  /**
   * Take the visitor's address from Fly-Client-IP / X-Forwarded-For (set by a
   * proxy in front); unless set, on when Fly is detected (FLY_MACHINE_ID set).
   */
  trustProxy: boolean;
  /** Running on Fly (FLY_MACHINE_ID is set): Fly's proxy, and it alone, writes Fly-Client-IP. */
  onFly: boolean;
  /** Serve HTTPS/WSS with this PEM certificate chain and key. */
  tls: { cert: string; key: string } | undefined;
  /** Milliseconds between two points of the dashboard feed. */
  dashboardTickMs: number;
  /** Public ports for TCP tunnels; undefined: no TCP tunnels. */
  tcpPorts: { start: number; end: number } | undefined;
  /** The port TLS tunnels answer on (routed by SNI); undefined: no TLS tunnels. */
  tlsPassthroughPort: number | undefined;
  /** How long a session keeps its TCP port after its last uplink left. */
  tcpPortGraceMs: number;
}

/** Settings of an entry that shares its sessions with other entries (REDIS_URL set). */
export interface ClusterConfig {
  /** The shared session directory. */
  redisUrl: string;
  /** This entry's instance id: FLY_MACHINE_ID when set, else TUNNEL_INSTANCE_ID, else generated at start. */
  instanceId: string;
  /**
   * How other entries reach this one: as set, else on Fly derived as
   * http://<machine id>.vm.<app>.internal:<port>; otherwise undefined here
   * and derived from the listen address once listening.
   */
  peerUrl: string | undefined;
  /** Set on Fly: sessions held elsewhere are answered with fly-replay where Fly can replay the request. */
  flyMachineId: string | undefined;
  /**
   * What the key that signs forwarded requests between entries is derived
   * from: TUNNEL_PEER_SECRET, else TUNNEL_SECRET.
   */
  peerSecret: string;
}

/** Client agent settings, read from `CLIENT_OPTIONS` by `clientConfig()`. */
export interface ClientConfig {
  /** Connect timeout, ping interval and silence rule of uplinks. */
  uplinkTimings: UplinkTimings;
  /**
   * The entries, in the order uplinks try them: at least one, no two with the
   * same origin, e.g. http://127.0.0.1:8080.
   */
  servers: URL[];
  /** Session name, `[a-z0-9-]{1,63}`. */
  session: string;
  /** The session's token. */
  token: string;
  /** The local target, e.g. http://127.0.0.1:3000. */
  target: URL;
  /**
   * The target was named by port only (`3000`, `localhost:3000`,
   * `http://localhost:3000`): `target` is its 127.0.0.1 form, and the client
   * uses ::1 instead when only that answers.
   */
  localPort: boolean;
  /** Uplinks to open. */
  uplinks: number;
  /** Concurrent requests to the target; more wait in line. */
  maxConnections: number;
  /** Per-stream receive window in bytes. */
  windowBytes: number;
  /** Log lines as text or JSON. */
  logFormat: "text" | "json";
  /** Where the request inspector listens; undefined with `--no-inspect`. */
  inspect: InspectAddress | undefined;
  /** The target's fingerprint sent in the hello: the first 16 hex digits of SHA-256 of its URL. */
  targetTag: string;
  /** Serves the session alongside clients with other targets on purpose (--replica). */
  replica: boolean;
  /** A line per request; undefined: on at a terminal (text logs), off elsewhere. */
  logRequests: boolean | undefined;
  /** Who may reach the tunnel, sent to the entry with each uplink's hello; undefined: everyone. */
  access: AccessRules | undefined;
  /** A TCP or TLS tunnel (a `tcp://` or `tls://` target), as the hello asks for it; undefined: HTTP. */
  tunnel: TunnelKind | undefined;
  /** A private tunnel's visitor key, as given (TUNNEL_VISITOR_KEY) or made up here (`visitorKeyMade`). */
  visitorKey: string | undefined;
  visitorKeyMade: boolean;
  /** Send TCP targets a PROXY protocol v2 header first (--proxy-protocol). */
  proxyProtocol: boolean;
}

type Env = Record<string, string | undefined>;

/**
 * Reads settings with `read`; on a ConfigError prints its message (no stack)
 * and exits: 0 for `--help`, 2 for a bad setting.
 */
export function readConfigOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Help asked for is the answer (stdout, 0); anything else is a mistake to fix (stderr, 2).
    if (err.message.startsWith("Usage:")) {
      console.log(err.message);
      process.exit(0);
    }
    console.error(err.message);
    process.exit(2);
  }
}

/** Reads entry settings from flags and environment, validating each. */
export function entryConfig(args: string[], env: Env): EntryConfig {
  const o = readOptions(ENTRY_OPTIONS, programFlags(ENTRY_OPTIONS, args), env);
  const domain = o.domain;
  const tls = tlsFiles(o.tlsCert, o.tlsKey);
  // Serving TLS itself, the entry announces https:// URLs unless told otherwise.
  const publicScheme = o.publicScheme ?? (tls ? "https" : "http");
  const within = (port: number) => o.tcpPorts !== undefined && port >= o.tcpPorts.start && port <= o.tcpPorts.end;
  if (within(o.port)) throw new ConfigError(`--tcp-ports ${o.tcpPorts!.start}-${o.tcpPorts!.end} holds the entry's own port ${o.port}: leave it out of the range`);
  if (o.tlsPassthroughPort !== undefined && (o.tlsPassthroughPort === o.port || within(o.tlsPassthroughPort))) {
    throw new ConfigError(`--tls-passthrough-port ${o.tlsPassthroughPort} is already the entry's port or in --tcp-ports: give it a port of its own`);
  }
  return {
    uplinkTimings: o.uplinkTimings,
    port: o.port,
    // Open development mode lets anyone claim any session: unless told, only this machine may reach it.
    hostname: o.hostname ?? (o.secret ? "0.0.0.0" : "127.0.0.1"),
    hostnameGiven: o.hostname !== undefined,
    domain,
    requestTimeoutMs: o.requestTimeoutMs,
    idleTimeoutS: o.idleTimeoutS,
    maxStreamsPerSession: o.maxStreamsPerSession,
    maxUplinksPerSession: o.maxUplinksPerSession,
    windowBytes: o.windowBytes,
    publicScheme,
    publicPort: o.publicPort,
    secret: o.secret,
    maxBodyBytes: o.maxBodyBytes,
    drainTimeoutMs: o.drainTimeoutMs,
    rateLimit: rateLimit(o),
    tiers: o.tiers,
    policy: o.policy,
    signOn: signOn(o),
    dashboardToken: o.dashboardToken,
    logFormat: o.logFormat,
    metrics: o.metrics,
    cluster: clusterConfig(o, env),
    trustProxy: o.trustProxy ?? Boolean(env.FLY_MACHINE_ID),
    onFly: Boolean(env.FLY_MACHINE_ID),
    tls,
    dashboardTickMs: o.dashboardTickMs,
    tcpPorts: o.tcpPorts,
    tlsPassthroughPort: o.tlsPassthroughPort,
    tcpPortGraceMs: o.tcpPortGraceMs,
  };
}

type EntryValues = Values<typeof ENTRY_OPTIONS.options>;

function tlsFiles(certPath: string | undefined, keyPath: string | undefined): { cert: string; key: string } | undefined {
  if (!certPath && !keyPath) return undefined;
  if (!certPath || !keyPath) throw new ConfigError("TLS needs both --tls-cert and --tls-key (PEM files)");
  const read = (flag: string, path: string, marker: string) => {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`Cannot read ${flag} file ${JSON.stringify(path)}: ${(err as Error).message}`);
    }
    if (!text.includes(marker)) throw new ConfigError(`${flag} file ${JSON.stringify(path)} is not PEM (no "${marker}" line)`);
    return text;
  };
  return { cert: read("--tls-cert", certPath, "-----BEGIN CERTIFICATE-----"), key: read("--tls-key", keyPath, "PRIVATE KEY-----") };
}

/** Instance ids name Redis keys and fly-replay targets: a short safe alphabet. */
const INSTANCE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** REDIS_URL and what goes with it; FLY_MACHINE_ID and FLY_APP_NAME are Fly's, not options. */
function clusterConfig(o: EntryValues, env: Env): ClusterConfig | undefined {
  const redisUrl = o.redisUrl;
  if (!redisUrl) return undefined;
  const flyMachineId = env.FLY_MACHINE_ID || undefined;
  const instanceId = flyMachineId ?? o.instanceId ?? crypto.randomUUID().slice(0, 8);
  if (!INSTANCE_ID_PATTERN.test(instanceId)) {
    throw new ConfigError(`Invalid instance id ${JSON.stringify(instanceId)} (FLY_MACHINE_ID / TUNNEL_INSTANCE_ID): use 1-64 of A-Z a-z 0-9 _ -`);
  }
  // Fly's private network (6PN) names each machine <id>.vm.<app>.internal.
  const peerUrl = o.peerUrl ?? (flyMachineId && env.FLY_APP_NAME ? `http://${flyMachineId}.vm.${env.FLY_APP_NAME}.internal:${o.port}` : undefined);
  const peerSecret = o.peerSecret ?? o.secret;
  if (!peerSecret) {
    throw new ConfigError(
      "REDIS_URL needs TUNNEL_SECRET or TUNNEL_PEER_SECRET (the same on every entry): entries sign the requests they forward to each other with it",
    );
  }
  return { redisUrl, instanceId, peerUrl, flyMachineId, peerSecret };
}

/** TUNNEL_OIDC_ISSUER and what it needs: a client id, and TUNNEL_SECRET to sign visitors' sign-on cookies. */
function signOn(o: EntryValues): EntryConfig["signOn"] {
  if (!o.oidcIssuer) {
    if (o.oidcClientId || o.oidcClientSecret) throw new ConfigError("TUNNEL_OIDC_CLIENT_ID and TUNNEL_OIDC_CLIENT_SECRET need TUNNEL_OIDC_ISSUER (the provider's URL)");
    return undefined;
  }
  if (!o.oidcClientId) throw new ConfigError("TUNNEL_OIDC_ISSUER needs TUNNEL_OIDC_CLIENT_ID (this entry's client id at the provider)");
  if (!o.secret) throw new ConfigError("TUNNEL_OIDC_ISSUER needs TUNNEL_SECRET: sign-on cookies are signed with a key derived from it (the same on every entry)");
  return { issuer: o.oidcIssuer, clientId: o.oidcClientId, clientSecret: o.oidcClientSecret };
}

/** RATE_LIMIT_RPS, with RATE_LIMIT_BURST defaulting to one second's worth. */
function rateLimit(o: EntryValues): Tier | undefined {
  const rps = o.rateLimitRps;
  if (rps === undefined) {
    if (o.rateLimitBurst !== undefined) throw new ConfigError("RATE_LIMIT_BURST needs RATE_LIMIT_RPS");
    return undefined;
  }
  return { rps, burst: o.rateLimitBurst ?? Math.max(1, Math.ceil(rps)) };
}

/** Reads client settings from flags and environment, validating each. */
export function clientConfig(args: string[], env: Env): ClientConfig {
  return clientConfigFrom(programFlags(CLIENT_OPTIONS, args), env);
}

/** Client settings from flags already parsed (by option name; they win over the environment). */
export function clientConfigFrom(flags: Flags<typeof CLIENT_OPTIONS.options>, env: Env): ClientConfig {
  const o = readOptions(CLIENT_OPTIONS, flags, env);
  const session = o.session;
  const token = o.token;
  return {
    uplinkTimings: o.uplinkTimings,
    servers: o.server,
    session,
    token,
    ...o.to,
    uplinks: o.uplinks,
    maxConnections: o.maxConns,
    windowBytes: o.windowBytes,
    logFormat: o.logFormat,
    inspect: o.noInspect ? undefined : o.inspect,
    logRequests: o.logRequests,
    targetTag: createHash("sha256").update(o.to.target.href).digest("hex").slice(0, 16),
    replica: o.replica,
    access: accessRules(o),
    ...tunnelOf(o),
    proxyProtocol: o.proxyProtocol,
  };
}

/** What a TCP or TLS target asks of the entry; the TCP options make sense on those only. */
function tunnelOf(o: ClientValues): Pick<ClientConfig, "tunnel" | "visitorKey" | "visitorKeyMade"> {
  const kind = tunnelKindOf(o.to.target);
  const tcpOnly = (what: string) => new ConfigError(`${what} is for TCP tunnels (tunnel2 tcp PORT, or --to tcp://HOST:PORT)`);
  if (kind === "http") {
    if (o.remotePort !== undefined) throw tcpOnly("--remote-port");
    if (o.private) throw tcpOnly("--private");
    if (o.proxyProtocol) throw new ConfigError("--proxy-protocol is for TCP and TLS tunnels (tunnel2 tcp PORT, tunnel2 tls PORT)");
    return { tunnel: undefined, visitorKey: undefined, visitorKeyMade: false };
  }
  if (kind === "tls" && (o.remotePort !== undefined || o.private)) {
    throw new ConfigError(`${o.remotePort !== undefined ? "--remote-port" : "--private"} is for TCP tunnels: a TLS tunnel answers on the entry's TLS port, by the name <session>.<domain>`);
  }
  const rules = accessRules(o);
  if (rules && (rules.basicAuth || rules.webhook || rules.oidcAllow)) {
    throw new ConfigError(
      `A ${kind.toUpperCase()} tunnel carries bytes, not requests: of the access rules it takes --allow-ip and --deny-ip only (not --basic-auth, --verify-webhook or --oidc-allow)`,
    );
  }
  if (!o.private) {
    if (o.visitorKey !== undefined) throw new ConfigError("TUNNEL_VISITOR_KEY is for private tunnels: add --private (or unset it)");
    return { tunnel: { kind, ...(o.remotePort !== undefined ? { port: o.remotePort } : {}) }, visitorKey: undefined, visitorKeyMade: false };
  }
  if (o.remotePort !== undefined) throw new ConfigError("--remote-port and --private do not go together: a private tunnel has no public port");
  if (o.visitorKey !== undefined && o.visitorKey.length < 16) throw new ConfigError("TUNNEL_VISITOR_KEY is too short: use at least 16 characters (or unset it and one is made up)");
  const key = o.visitorKey ?? randomKey();
  return {
    tunnel: { kind, private: true, visitorKey: visitorKeyHash(key) },
    visitorKey: key,
    visitorKeyMade: o.visitorKey === undefined,
  };
}

/** What a private tunnel's hello carries of its visitor key: its SHA-256, never the key. */
export function visitorKeyHash(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

type ClientValues = Values<typeof CLIENT_OPTIONS.options>;

/** The access rules alone, from the access flags (by option name) and the environment: what `tunnel2 config add-tunnel` saves. */
export function accessFromFlags(flags: Flags<typeof CLIENT_OPTIONS.options>, env: Env): AccessRules | undefined {
  return accessRules(readOptions(CLIENT_OPTIONS, flags, env));
}

/** The access options as rules, checked as the entry will check them (so a typo fails here, not at the entry). */
function accessRules(o: ClientValues): AccessRules | undefined {
  if (o.webhookSecret !== undefined && o.verifyWebhook === undefined) {
    throw new ConfigError("TUNNEL_WEBHOOK_SECRET needs --verify-webhook (TUNNEL_VERIFY_WEBHOOK): github, stripe, slack or hmac-sha256:HEADER");
  }
  if (o.verifyWebhook !== undefined && !o.webhookSecret) {
    throw new ConfigError(`--verify-webhook ${o.verifyWebhook} needs the signing secret in TUNNEL_WEBHOOK_SECRET (the one the sender signs with)`);
  }
  const nonEmpty = (list: string[] | undefined) => (list && list.length > 0 ? list : undefined);
  const rules: AccessRules = {
    basicAuth: nonEmpty(o.basicAuth),
    allowIp: nonEmpty(o.allowIp),
    denyIp: nonEmpty(o.denyIp),
    webhook: o.verifyWebhook !== undefined ? { provider: o.verifyWebhook, secret: o.webhookSecret! } : undefined,
    oidcAllow: nonEmpty(o.oidcAllow),
  };
  for (const key of Object.keys(rules) as (keyof AccessRules)[]) if (rules[key] === undefined) delete rules[key];
  return checkedAccess(rules, "");
}

/** Rules read as the entry reads them; `where` prefixes the message (a config file's tunnel). */
export function checkedAccess(rules: unknown, where: string): AccessRules | undefined {
  let checked: AccessRules;
  try {
    checked = readAccessRules(rules);
  } catch (err) {
    throw new ConfigError(`${where}Invalid access rule ${(err as Error).message}`);
  }
  // The rules travel in the hello, which has a bound: say so here rather than be refused there.
  const bytes = new TextEncoder().encode(JSON.stringify(checked)).byteLength;
  if (bytes > MAX_HELLO_BYTES - 1024) throw new ConfigError(`${where}Access rules too large: ${bytes} bytes, at most ${MAX_HELLO_BYTES - 1024}`);
  return hasRules(checked) ? checked : undefined;
}
