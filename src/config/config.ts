import { readFileSync } from "node:fs";
import process from "node:process";
import { parseTiers, type Tier, type TierConfig } from "./tiers.ts";
import { parseArgs } from "node:util";
import { DEFAULT_WINDOW_BYTES, MAX_WINDOW_BYTES, MIN_WINDOW_BYTES, SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { DEFAULT_UPLINK_TIMINGS, type UplinkTimings, uplinkTimingsProblem } from "../protocol/uplink-timings.ts";

/** A configuration problem a user can fix; mains print it without a stack. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Entry server settings. Each comes from `--flag`, else the environment, else its default. */
export interface EntryConfig {
  /** Listen port. Env PORT, default 8080. */
  port: number;
  /** Listen address. Env HOSTNAME, default 0.0.0.0. */
  hostname: string;
  /** `<session>.<domain>` routes to a session. Env TUNNEL_DOMAIN, default localhost. */
  domain: string;
  /** Time for a response head to arrive, counted from when the request body is sent, before 504. Env REQUEST_TIMEOUT_MS, default 30000. */
  requestTimeoutMs: number;
  /**
   * Seconds a visitor's keep-alive connection may sit idle between requests
   * before the entry closes it; 0 = never. A proxied request's connection is
   * exempt while its response is pending or streaming (REQUEST_TIMEOUT_MS
   * bounds the head; a body may stay silent, as SSE does). Uplinks and
   * WebSockets keep their own rules. Bun only: Bun.serve enforces it in steps
   * of about 4 s (at most 255); Deno.serve (2.9) has no connection timeouts,
   * so on Deno it does nothing. Env IDLE_TIMEOUT_S, default 30.
   */
  idleTimeoutS: number;
  /** Concurrent streams per session; above it 503. Env MAX_STREAMS_PER_SESSION, default 10000. */
  maxStreamsPerSession: number;
  /** Uplinks one session may hold on this entry (all its clients together); more are refused. Env MAX_UPLINKS_PER_SESSION, default 64. */
  maxUplinksPerSession: number;
  /** Hello timeout and silence rule of uplinks. Env TUNNEL_UPLINK_TIMINGS (JSON, for tests and tuning), default DEFAULT_UPLINK_TIMINGS. */
  uplinkTimings: UplinkTimings;
  /** Per-stream receive window in bytes. Env TUNNEL_WINDOW_BYTES, default 256 KiB. */
  windowBytes: number;
  /** Scheme of public URLs announced to clients. Env TUNNEL_PUBLIC_SCHEME, default https with --tls-cert, else http. */
  publicScheme: "http" | "https";
  /**
   * Port of public URLs announced to clients (omitted when 80 or 443). Env
   * TUNNEL_PUBLIC_PORT; undefined = the port the entry listens on. Behind a
   * proxy (Caddy, Fly) it is the proxy's port, e.g. 443.
   */
  publicPort: number | undefined;
  /** HMAC key session tokens derive from; undefined = open development mode. Env TUNNEL_SECRET. */
  secret: string | undefined;
  /** Request bodies above it get 413; undefined = unlimited. Env MAX_BODY_BYTES. */
  maxBodyBytes: number | undefined;
  /** On SIGTERM/SIGINT, how long in-flight requests may take. Env DRAIN_TIMEOUT_MS, default 25000. */
  drainTimeoutMs: number;
  /** Default per-session rate (requests/s) and burst; undefined = off. Env RATE_LIMIT_RPS, RATE_LIMIT_BURST. */
  rateLimit: Tier | undefined;
  /** Named tiers and their sessions. Env TUNNEL_TIERS: JSON, or a JSON file's path. */
  tiers: TierConfig | undefined;
  /** When set, control-plane pages and APIs (not /healthz) require it. Env DASHBOARD_TOKEN. */
  dashboardToken: string | undefined;
  /** Log lines as text or JSON. Env LOG_FORMAT, default text. */
  logFormat: "text" | "json";
  /** Count requests and time the writer queue (for /metrics and the dashboard). Env TUNNEL_METRICS, default on. */
  metrics: boolean;
  /** Several entries sharing sessions through Redis; undefined = one process, in memory. */
  cluster: ClusterConfig | undefined;
  /**
   * Take the visitor's address from Fly-Client-IP / X-Forwarded-For (set by a
   * proxy in front). Env TRUST_PROXY (1/0, true/false), default on when Fly
   * is detected (FLY_MACHINE_ID set), else off.
   */
  trustProxy: boolean;
  /** Serve HTTPS/WSS with this PEM certificate chain and key. Flags --tls-cert/--tls-key, env TUNNEL_TLS_CERT/TUNNEL_TLS_KEY. */
  tls: { cert: string; key: string } | undefined;
}

/** Settings of an entry that shares its sessions with other entries (REDIS_URL set). */
export interface ClusterConfig {
  /** The shared session directory. Env REDIS_URL. */
  redisUrl: string;
  /** This entry's instance id: FLY_MACHINE_ID when set, else TUNNEL_INSTANCE_ID, else generated at start. */
  instanceId: string;
  /**
   * How other entries reach this one. Env TUNNEL_PEER_URL; on Fly derived as
   * http://<machine id>.vm.<app>.internal:<port>; otherwise undefined here
   * and derived from the listen address once listening.
   */
  peerUrl: string | undefined;
  /** Set on Fly: sessions held elsewhere are answered with fly-replay where Fly can replay the request. */
  flyMachineId: string | undefined;
  /**
   * What the key that signs forwarded requests between entries is derived
   * from: env TUNNEL_PEER_SECRET, else TUNNEL_SECRET.
   */
  peerSecret: string;
}

/** Client agent settings. */
export interface ClientConfig {
  /** Connect timeout, ping interval and silence rule of uplinks. Env TUNNEL_UPLINK_TIMINGS (JSON, for tests and tuning), default DEFAULT_UPLINK_TIMINGS. */
  uplinkTimings: UplinkTimings;
  /**
   * The entries, in the order uplinks try them: at least one, no two with the
   * same origin, e.g. http://127.0.0.1:8080. `--server` repeated and/or
   * comma-separated; env TUNNEL_SERVER, comma-separated.
   */
  servers: URL[];
  /** Session name, `[a-z0-9-]{1,63}`. Env TUNNEL_SESSION. */
  session: string;
  /** The session's token. Env TUNNEL_TOKEN. */
  token: string;
  /** The local target, e.g. http://127.0.0.1:3000. Env TUNNEL_TARGET. */
  target: URL;
  /**
   * The target was named by port only (`3000`, `localhost:3000`,
   * `http://localhost:3000`): `target` is its 127.0.0.1 form, and the client
   * uses ::1 instead when only that answers.
   */
  localPort: boolean;
  /** Uplinks to open. Env TUNNEL_UPLINKS, default 2. */
  uplinks: number;
  /** Concurrent requests to the target; more wait in line. Env TUNNEL_MAX_CONNS, default 1024. */
  maxConnections: number;
  /** Per-stream receive window in bytes. Env TUNNEL_WINDOW_BYTES, default 256 KiB. */
  windowBytes: number;
  /** Log lines as text or JSON. Env TUNNEL_LOG_FORMAT, default text. */
  logFormat: "text" | "json";
  /** Where the request inspector listens (`--inspect`, TUNNEL_INSPECT); undefined with `--no-inspect`. */
  inspect: InspectAddress | undefined;
}

/** The request inspector's address: 127.0.0.1:4040 unless told. */
export interface InspectAddress {
  hostname: string;
  port: number;
  /** Given by the user: that port or an error. The default moves on to the next free port instead. */
  explicit: boolean;
}

export const DEFAULT_INSPECT: InspectAddress = { hostname: "127.0.0.1", port: 4040, explicit: false };

/**
 * `--inspect` as users write it: `ADDR:PORT`, `[IPv6]:PORT` or a port alone
 * (loopback; port 0: any free one); `off` (TUNNEL_INSPECT=off) turns it off
 * like `--no-inspect`.
 */
export function inspectAddress(raw: string | undefined, off: boolean): InspectAddress | undefined {
  if (off) return undefined;
  if (raw === undefined || raw === "") return DEFAULT_INSPECT;
  const text = raw.trim();
  if (/^(off|false|no|0)$/i.test(text)) return undefined;
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) {
    throw new ConfigError(`Invalid --inspect (TUNNEL_INSPECT): ${JSON.stringify(raw)} (expected ADDR:PORT such as 127.0.0.1:4040, a port, or off)`);
  }
  return { hostname: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port, explicit: true };
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
    console.error(err.message);
    process.exit(err.message.startsWith("Usage:") ? 0 : 2);
  }
}

function parse(args: string[], options: Record<string, { type: "string" | "boolean"; multiple?: boolean }>) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false }).values as Record<string, string | string[] | boolean | undefined>;
  } catch (err) {
    throw new ConfigError((err as Error).message.replace(/\. To specify.*$/s, ""));
  }
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)} (expected an integer from ${min} to ${max})`);
  }
  return n;
}

function httpUrl(name: string, raw: string | undefined): URL {
  if (!raw) throw new ConfigError(`Missing ${name}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)} (expected http:// or https://)`);
  }
  return url;
}

export const ENTRY_USAGE = `Usage: tunnel2 serve [options]   (each option also reads its environment variable)
  --port N                   PORT                     listen port (8080)
  --hostname ADDR            HOSTNAME                 listen address (0.0.0.0)
  --domain NAME              TUNNEL_DOMAIN            sessions answer at <session>.NAME (localhost)
  --request-timeout-ms N     REQUEST_TIMEOUT_MS       wait for a response head after the request is sent, then 504 (30000)
  --idle-timeout-s N         IDLE_TIMEOUT_S           close visitor connections idle this long, 0-255, 0 = never; Bun only (30)
  --max-streams-per-session N MAX_STREAMS_PER_SESSION concurrent streams per session, then 503 (10000)
  --max-uplinks-per-session N MAX_UPLINKS_PER_SESSION uplinks per session, all its clients together, then refused (64)
  --window-bytes N           TUNNEL_WINDOW_BYTES      per-stream flow-control window (262144)
  --public-scheme http|https TUNNEL_PUBLIC_SCHEME     scheme of announced public URLs (http; https with --tls-cert)
  --public-port N            TUNNEL_PUBLIC_PORT       port of announced public URLs, e.g. 443 behind a proxy (the listen port)
  --secret KEY               TUNNEL_SECRET            HMAC key for session tokens (unset: open mode; prefer the env)
  --max-body-bytes N         MAX_BODY_BYTES           request bodies above it get 413 (unlimited)
  --drain-timeout-ms N       DRAIN_TIMEOUT_MS         on SIGTERM, time in-flight requests get (25000)
  --rate-limit-rps N         RATE_LIMIT_RPS           per-session requests/s, then 429 (off)
  --rate-limit-burst N       RATE_LIMIT_BURST         per-session burst (= rps)
  --tiers JSON|FILE          TUNNEL_TIERS             named rate tiers per session (see README)
  --dashboard-token TOKEN    DASHBOARD_TOKEN          protect /, /metrics, /api/* (Bearer or Basic)
  --log-format text|json     LOG_FORMAT               log line format (text)
  --metrics on|off           TUNNEL_METRICS           count requests for /metrics and the dashboard (on)
  --tls-cert FILE            TUNNEL_TLS_CERT          serve HTTPS/WSS with this PEM certificate (chain); needs --tls-key
  --tls-key FILE             TUNNEL_TLS_KEY           the certificate's PEM private key
  --trust-proxy 1|0          TRUST_PROXY              visitor address from Fly-Client-IP / X-Forwarded-For (on under Fly)
Several entries (see README "Several entries"):
  --redis-url URL            REDIS_URL                share sessions with other entries through this Redis (unset: alone)
  --peer-url URL             TUNNEL_PEER_URL          how other entries reach this one (Fly: derived; else the listen address, or the host name on 0.0.0.0/::)
                             TUNNEL_PEER_SECRET       proves forwarded requests come from an entry (default: derived from TUNNEL_SECRET)
                             TUNNEL_INSTANCE_ID       this entry's id (default FLY_MACHINE_ID, else generated)`;

/** Reads entry settings from flags and environment, validating each. */
export function entryConfig(args: string[], env: Env): EntryConfig {
  const f = parse(args, {
    port: { type: "string" },
    hostname: { type: "string" },
    domain: { type: "string" },
    "request-timeout-ms": { type: "string" },
    "idle-timeout-s": { type: "string" },
    "max-streams-per-session": { type: "string" },
    "max-uplinks-per-session": { type: "string" },
    "window-bytes": { type: "string" },
    "public-scheme": { type: "string" },
    "public-port": { type: "string" },
    secret: { type: "string" },
    "max-body-bytes": { type: "string" },
    "drain-timeout-ms": { type: "string" },
    "rate-limit-rps": { type: "string" },
    "rate-limit-burst": { type: "string" },
    tiers: { type: "string" },
    "dashboard-token": { type: "string" },
    "log-format": { type: "string" },
    metrics: { type: "string" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "trust-proxy": { type: "string" },
    "redis-url": { type: "string" },
    "peer-url": { type: "string" },
  });
  if (f.help) throw new ConfigError(ENTRY_USAGE);
  const str = (flag: string, name: string) => (f[flag] as string | undefined) ?? env[name];
  const domain = (str("domain", "TUNNEL_DOMAIN") ?? "localhost").toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(domain)) throw new ConfigError(`Invalid TUNNEL_DOMAIN: ${JSON.stringify(domain)}`);
  const tls = tlsFiles(str("tls-cert", "TUNNEL_TLS_CERT"), str("tls-key", "TUNNEL_TLS_KEY"));
  // Serving TLS itself, the entry announces https:// URLs unless told otherwise.
  const scheme = str("public-scheme", "TUNNEL_PUBLIC_SCHEME") || (tls ? "https" : "http");
  if (scheme !== "http" && scheme !== "https") {
    throw new ConfigError(`Invalid TUNNEL_PUBLIC_SCHEME: ${JSON.stringify(scheme)} (expected http or https)`);
  }
  const port = integer("PORT", str("port", "PORT"), 8080, 0, 65535);
  const secret = str("secret", "TUNNEL_SECRET") || undefined;
  return {
    uplinkTimings: uplinkTimings(env),
    port,
    hostname: str("hostname", "HOSTNAME") || "0.0.0.0",
    domain,
    requestTimeoutMs: integer("REQUEST_TIMEOUT_MS", str("request-timeout-ms", "REQUEST_TIMEOUT_MS"), 30_000, 1, 3_600_000),
    // Bun.serve's idleTimeout takes at most 255 s.
    idleTimeoutS: integer("IDLE_TIMEOUT_S", str("idle-timeout-s", "IDLE_TIMEOUT_S"), 30, 0, 255),
    maxStreamsPerSession: integer(
      "MAX_STREAMS_PER_SESSION",
      str("max-streams-per-session", "MAX_STREAMS_PER_SESSION"),
      10_000,
      1,
      1_000_000,
    ),
    maxUplinksPerSession: integer(
      "MAX_UPLINKS_PER_SESSION",
      str("max-uplinks-per-session", "MAX_UPLINKS_PER_SESSION"),
      64,
      1,
      10_000,
    ),
    windowBytes: integer("TUNNEL_WINDOW_BYTES", str("window-bytes", "TUNNEL_WINDOW_BYTES"), DEFAULT_WINDOW_BYTES, MIN_WINDOW_BYTES, MAX_WINDOW_BYTES),
    publicScheme: scheme,
    publicPort: optionalInteger("TUNNEL_PUBLIC_PORT", str("public-port", "TUNNEL_PUBLIC_PORT"), 1, 65535),
    secret,
    maxBodyBytes: optionalInteger("MAX_BODY_BYTES", str("max-body-bytes", "MAX_BODY_BYTES"), 0, Number.MAX_SAFE_INTEGER),
    drainTimeoutMs: integer("DRAIN_TIMEOUT_MS", str("drain-timeout-ms", "DRAIN_TIMEOUT_MS"), 25_000, 0, 3_600_000),
    rateLimit: rateLimit(str("rate-limit-rps", "RATE_LIMIT_RPS"), str("rate-limit-burst", "RATE_LIMIT_BURST")),
    tiers: tierConfig(str("tiers", "TUNNEL_TIERS")),
    dashboardToken: str("dashboard-token", "DASHBOARD_TOKEN") || undefined,
    logFormat: logFormat(str("log-format", "LOG_FORMAT")),
    metrics: onOff("TUNNEL_METRICS", str("metrics", "TUNNEL_METRICS"), true),
    cluster: clusterConfig(str("redis-url", "REDIS_URL"), str("peer-url", "TUNNEL_PEER_URL"), port, secret, env),
    trustProxy: yesNo("TRUST_PROXY", str("trust-proxy", "TRUST_PROXY"), Boolean(env.FLY_MACHINE_ID)),
    tls,
  };
}

/** TUNNEL_UPLINK_TIMINGS: a JSON object overriding some of DEFAULT_UPLINK_TIMINGS; the same on entry and client. */
function uplinkTimings(env: Env): UplinkTimings {
  const raw = env.TUNNEL_UPLINK_TIMINGS;
  if (raw === undefined || raw === "") return DEFAULT_UPLINK_TIMINGS;
  let given: unknown;
  try {
    given = JSON.parse(raw);
  } catch {
    throw new ConfigError(`Invalid TUNNEL_UPLINK_TIMINGS: not JSON (e.g. {"pingEveryMs":5000,"silenceMs":15000})`);
  }
  if (typeof given !== "object" || given === null || Array.isArray(given)) throw new ConfigError("Invalid TUNNEL_UPLINK_TIMINGS: a JSON object");
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_UPLINK_TIMINGS)) throw new ConfigError(`Invalid TUNNEL_UPLINK_TIMINGS: unknown ${key} (known: ${Object.keys(DEFAULT_UPLINK_TIMINGS).join(", ")})`);
  }
  const timings = { ...DEFAULT_UPLINK_TIMINGS, ...given as Partial<UplinkTimings> };
  const problem = uplinkTimingsProblem(timings);
  if (problem) throw new ConfigError(`Invalid TUNNEL_UPLINK_TIMINGS: ${problem}`);
  return timings;
}

function yesNo(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === "") return fallback;
  if (raw === "1" || raw === "true" || raw === "yes" || raw === "on") return true;
  if (raw === "0" || raw === "false" || raw === "no" || raw === "off") return false;
  throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)} (expected 1, true, yes or on; 0, false, no or off)`);
}

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

function clusterConfig(
  redisUrl: string | undefined,
  peerUrl: string | undefined,
  port: number,
  secret: string | undefined,
  env: Env,
): ClusterConfig | undefined {
  if (!redisUrl) return undefined;
  if (!/^rediss?:\/\/./.test(redisUrl)) {
    throw new ConfigError(`Invalid REDIS_URL: it must start with redis:// or rediss:// (got ${JSON.stringify(redisUrl.slice(0, 40))})`);
  }
  const flyMachineId = env.FLY_MACHINE_ID || undefined;
  const instanceId = flyMachineId ?? (env.TUNNEL_INSTANCE_ID || crypto.randomUUID().slice(0, 8));
  if (!INSTANCE_ID_PATTERN.test(instanceId)) {
    throw new ConfigError(`Invalid instance id ${JSON.stringify(instanceId)} (FLY_MACHINE_ID / TUNNEL_INSTANCE_ID): use 1-64 of A-Z a-z 0-9 _ -`);
  }
  if (peerUrl) {
    httpUrl("TUNNEL_PEER_URL", peerUrl);
  } else if (flyMachineId && env.FLY_APP_NAME) {
    // Fly's private network (6PN) names each machine <id>.vm.<app>.internal.
    peerUrl = `http://${flyMachineId}.vm.${env.FLY_APP_NAME}.internal:${port}`;
  }
  const peerSecret = env.TUNNEL_PEER_SECRET || secret;
  if (!peerSecret) {
    throw new ConfigError(
      "REDIS_URL needs TUNNEL_SECRET or TUNNEL_PEER_SECRET (the same on every entry): entries sign the requests they forward to each other with it",
    );
  }
  return { redisUrl, instanceId, peerUrl: peerUrl?.replace(/\/+$/, ""), flyMachineId, peerSecret };
}

function onOff(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === "") return fallback;
  if (raw === "on") return true;
  if (raw === "off") return false;
  throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)} (expected on or off)`);
}

function optionalInteger(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  return raw === undefined || raw === "" ? undefined : integer(name, raw, 0, min, max);
}

function rateLimit(rpsRaw: string | undefined, burstRaw: string | undefined): Tier | undefined {
  if (rpsRaw === undefined || rpsRaw === "") {
    if (burstRaw) throw new ConfigError("RATE_LIMIT_BURST needs RATE_LIMIT_RPS");
    return undefined;
  }
  const rps = Number(rpsRaw);
  if (!(rps > 0) || !Number.isFinite(rps)) throw new ConfigError(`Invalid RATE_LIMIT_RPS: ${JSON.stringify(rpsRaw)} (expected a positive number)`);
  const burst = integer("RATE_LIMIT_BURST", burstRaw, Math.max(1, Math.ceil(rps)), 1, 1_000_000_000);
  return { rps, burst };
}

function tierConfig(raw: string | undefined): TierConfig | undefined {
  if (!raw) return undefined;
  let text = raw;
  if (!raw.trimStart().startsWith("{")) {
    try {
      text = readFileSync(raw, "utf8");
    } catch (err) {
      throw new ConfigError(`Cannot read TUNNEL_TIERS file ${JSON.stringify(raw)}: ${(err as Error).message}`);
    }
  }
  try {
    return parseTiers(text);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export const CLIENT_USAGE = `Usage: tunnel2 client --server URL[,URL…] --session NAME --token TOKEN --to URL [options]
  --server URL      TUNNEL_SERVER        the entry, e.g. http://127.0.0.1:8080; several: repeat the flag
                                         or separate with commas (env: commas); uplinks start on the
                                         first and move to the next when one fails or goes away
  --session NAME    TUNNEL_SESSION       session name: [a-z0-9-]{1,63}
  --token TOKEN     TUNNEL_TOKEN         the session's token
  --to URL          TUNNEL_TARGET        the local service, e.g. http://127.0.0.1:3000
  --uplinks N       TUNNEL_UPLINKS       WebSocket uplinks to open (2)
  --max-conns N     TUNNEL_MAX_CONNS     concurrent requests to the target (1024)
  --window-bytes N  TUNNEL_WINDOW_BYTES  per-stream flow-control window (262144)
  --log-format F    TUNNEL_LOG_FORMAT    text (with a live status line on a terminal) or json
  --inspect ADDR:PORT TUNNEL_INSPECT     the request inspector's address (127.0.0.1:4040, the next free
                                         port if taken); loopback only unless told otherwise
  --no-inspect                           no request inspector (TUNNEL_INSPECT=off)`;

/** Reads client settings from flags and environment, validating each. */
export function clientConfig(args: string[], env: Env): ClientConfig {
  const f = parse(args, {
    server: { type: "string", multiple: true },
    session: { type: "string" },
    token: { type: "string" },
    to: { type: "string" },
    uplinks: { type: "string" },
    "max-conns": { type: "string" },
    "window-bytes": { type: "string" },
    "log-format": { type: "string" },
    inspect: { type: "string" },
    "no-inspect": { type: "boolean" },
  });
  if (f.help) throw new ConfigError(CLIENT_USAGE);
  const str = (flag: string, name: string) => (f[flag] as string | undefined) ?? env[name];
  const session = str("session", "TUNNEL_SESSION");
  if (!session) throw new ConfigError("Missing --session (or TUNNEL_SESSION)");
  if (!SESSION_NAME_PATTERN.test(session)) {
    throw new ConfigError(`Invalid session name: ${JSON.stringify(session)} (use 1-63 of a-z, 0-9 and -)`);
  }
  const token = str("token", "TUNNEL_TOKEN");
  if (token === undefined) throw new ConfigError("Missing --token (or TUNNEL_TOKEN)");
  return {
    uplinkTimings: uplinkTimings(env),
    servers: serverList((f.server as string[] | undefined) ?? (env.TUNNEL_SERVER === undefined ? [] : [env.TUNNEL_SERVER])),
    session,
    token,
    ...localTarget("--to (or TUNNEL_TARGET)", str("to", "TUNNEL_TARGET")),
    uplinks: integer("--uplinks (TUNNEL_UPLINKS)", str("uplinks", "TUNNEL_UPLINKS"), 2, 1, 64),
    maxConnections: integer("--max-conns (TUNNEL_MAX_CONNS)", str("max-conns", "TUNNEL_MAX_CONNS"), 1024, 1, 100_000),
    windowBytes: integer("--window-bytes (TUNNEL_WINDOW_BYTES)", str("window-bytes", "TUNNEL_WINDOW_BYTES"), DEFAULT_WINDOW_BYTES, MIN_WINDOW_BYTES, MAX_WINDOW_BYTES),
    logFormat: logFormat(str("log-format", "TUNNEL_LOG_FORMAT")),
    inspect: inspectAddress(str("inspect", "TUNNEL_INSPECT"), f["no-inspect"] === true),
  };
}

/**
 * The entries from `--server` values (or TUNNEL_SERVER), each possibly a
 * comma-separated list: empty pieces skipped, each piece checked (the error
 * names it), later ones with an origin already listed dropped (uplinks dial
 * only the origin, so those are the same entry).
 */
function serverList(values: string[]): URL[] {
  const name = "--server (or TUNNEL_SERVER)";
  const byOrigin = new Map<string, URL>();
  for (const piece of values.flatMap((v) => v.split(","))) {
    const raw = piece.trim();
    if (raw === "") continue;
    const url = httpUrl(name, raw);
    if (!byOrigin.has(url.origin)) byOrigin.set(url.origin, url);
  }
  if (byOrigin.size === 0) throw new ConfigError(`Missing ${name}`);
  return [...byOrigin.values()];
}

/**
 * A target as users write it: a port (`3000`), `host:port`, or a URL. A
 * port alone, or `localhost` with a port, means this machine's loopback on
 * whichever of 127.0.0.1 and ::1 the app listens on (`localPort`).
 */
export function localTarget(name: string, raw: string | undefined): { target: URL; localPort: boolean } {
  if (raw === undefined || raw === "") throw new ConfigError(`Missing ${name}`);
  let text = raw.trim();
  if (/^\d+$/.test(text)) text = `localhost:${text}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `http://${text}`;
  const target = httpUrl(name, text);
  if (target.port === "" && /^\d+$/.test(raw.trim())) throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)}`);
  if (target.port !== "" && (Number(target.port) < 1 || Number(target.port) > 65535)) {
    throw new ConfigError(`Invalid ${name}: port ${target.port} (expected 1-65535)`);
  }
  const localPort = target.hostname === "localhost";
  if (localPort) target.hostname = "127.0.0.1";
  return { target, localPort };
}

function logFormat(raw: string | undefined): "text" | "json" {
  if (raw === undefined || raw === "" || raw === "text") return "text";
  if (raw === "json") return "json";
  throw new ConfigError(`Invalid log format: ${JSON.stringify(raw)} (expected text or json)`);
}
