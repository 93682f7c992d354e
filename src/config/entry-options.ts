import { readFileSync } from "node:fs";
import { ConfigError } from "./config-error.ts";
import { choice, httpUrl, integer, invalid, onOff, positiveNumber, text, yesNo } from "./option-kinds.ts";
import { type Kind, type Option, option, type OptionTable } from "./option-table.ts";
import { SHARED_OPTIONS } from "./shared-options.ts";
import { parseTiers, type TierConfig } from "./tiers.ts";
import { PolicyFloor } from "../access/policy-floor.ts";

/** `<session>.<domain>`: a lowercase host name. */
const domainName: Kind<string> = {
  parse(raw, label) {
    const domain = raw.toLowerCase();
    if (!/^[a-z0-9.-]+$/.test(domain)) throw invalid(label, domain);
    return domain;
  },
};

/** Inline JSON (it starts with `{`), or the path of a JSON file, read by `parse`, whose Error messages become the option's. */
function jsonOrFile<T>(parse: (json: string) => T): Kind<T> {
  return {
    parse(raw, label) {
      let json = raw;
      if (!raw.trimStart().startsWith("{")) {
        try {
          json = readFileSync(raw, "utf8");
        } catch (err) {
          throw new ConfigError(`Cannot read ${label} file ${JSON.stringify(raw)}: ${(err as Error).message}`);
        }
      }
      try {
        return parse(json);
      } catch (err) {
        throw new ConfigError((err as Error).message);
      }
    },
  };
}

/** `START-END` (or one port): the TCP ports an entry hands to TCP tunnels. */
const portRange: Kind<{ start: number; end: number }> = {
  parse(raw, label) {
    const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(raw);
    const start = Number(match?.[1]);
    const end = Number(match?.[2] ?? match?.[1]);
    if (!match || start < 1 || end > 65535 || end < start) {
      throw new ConfigError(`Invalid ${label}: ${JSON.stringify(raw)} (expected START-END such as 20000-20999, within 1-65535)`);
    }
    if (end - start >= 10_000) throw new ConfigError(`Invalid ${label}: ${raw} is ${end - start + 1} ports; at most 10000`);
    return { start, end };
  },
};

const redisUrl: Kind<string> = {
  parse(raw, label) {
    if (!/^rediss?:\/\/./.test(raw)) {
      throw new ConfigError(`Invalid ${label}: it must start with redis:// or rediss:// (got ${JSON.stringify(raw.slice(0, 40))})`);
    }
    return raw;
  },
};

const peerUrl: Kind<string> = { parse: (raw, label) => (httpUrl(label, raw), raw.replace(/\/+$/, "")) };

/**
 * The entry's options (`tunnel2 serve`, `src/server.ts`): each is `--flag`,
 * else its variable, else its default. `entryConfig()` turns them into an
 * `EntryConfig`; docs/configuration.md lists the same rows.
 */
export const ENTRY_OPTIONS = {
  usage: "Usage: tunnel2 serve [options]   (each option also reads its environment variable)",
  naming: "variable",
  options: {
    port: option({ flag: "port", env: "PORT", arg: "N", kind: integer(0, 65535), default: 8080, help: "listen port" }),
    hostname: option({
      flag: "hostname",
      env: "HOSTNAME",
      arg: "ADDR",
      kind: text,
      shown: "0.0.0.0 with TUNNEL_SECRET, else 127.0.0.1",
      help: "listen address",
    }),
    domain: option({
      flag: "domain",
      env: "TUNNEL_DOMAIN",
      arg: "NAME",
      kind: domainName,
      default: "localhost",
      keepEmpty: true,
      help: "sessions answer at <session>.NAME",
    }),
    requestTimeoutMs: option({
      flag: "request-timeout-ms",
      env: "REQUEST_TIMEOUT_MS",
      arg: "N",
      kind: integer(1, 3_600_000),
      default: 30_000,
      help: "wait for a response head after the request is sent, then 504",
    }),
    // Bun.serve's idleTimeout takes at most 255 s.
    idleTimeoutS: option({
      flag: "idle-timeout-s",
      env: "IDLE_TIMEOUT_S",
      arg: "N",
      kind: integer(0, 255),
      default: 30,
      help: "close visitor connections idle this long, 0-255, 0 = never; Bun only",
    }),
    maxStreamsPerSession: option({
      flag: "max-streams-per-session",
      env: "MAX_STREAMS_PER_SESSION",
      arg: "N",
      kind: integer(1, 1_000_000),
      default: 10_000,
      help: "concurrent streams per session, then 503",
    }),
    maxUplinksPerSession: option({
      flag: "max-uplinks-per-session",
      env: "MAX_UPLINKS_PER_SESSION",
      arg: "N",
      kind: integer(1, 10_000),
      default: 64,
      help: "uplinks per session, all its clients together, then refused",
    }),
    windowBytes: SHARED_OPTIONS.windowBytes,
    publicScheme: option({
      flag: "public-scheme",
      env: "TUNNEL_PUBLIC_SCHEME",
      arg: "http|https",
      kind: choice("http", "https"),
      shown: "http; https with --tls-cert",
      help: "scheme of announced public URLs",
    }),
    publicPort: option({
      flag: "public-port",
      env: "TUNNEL_PUBLIC_PORT",
      arg: "N",
      kind: integer(1, 65535),
      shown: "the listen port",
      help: "port of announced public URLs, e.g. 443 behind a proxy",
    }),
    secret: option({
      flag: "secret",
      env: "TUNNEL_SECRET",
      arg: "KEY",
      kind: text,
      shown: "unset: open mode; prefer the env",
      help: "HMAC key for session tokens",
    }),
    maxBodyBytes: option({
      flag: "max-body-bytes",
      env: "MAX_BODY_BYTES",
      arg: "N",
      kind: integer(0, Number.MAX_SAFE_INTEGER),
      shown: "unlimited",
      help: "request bodies above it get 413",
    }),
    drainTimeoutMs: option({
      flag: "drain-timeout-ms",
      env: "DRAIN_TIMEOUT_MS",
      arg: "N",
      kind: integer(0, 3_600_000),
      default: 25_000,
      help: "on SIGTERM, time in-flight requests get",
    }),
    rateLimitRps: option({
      flag: "rate-limit-rps",
      env: "RATE_LIMIT_RPS",
      arg: "N",
      kind: positiveNumber,
      shown: "off",
      help: "per-session requests/s, then 429",
    }),
    rateLimitBurst: option({
      flag: "rate-limit-burst",
      env: "RATE_LIMIT_BURST",
      arg: "N",
      kind: integer(1, 1_000_000_000),
      shown: "= rps",
      help: "per-session burst",
    }),
    tiers: option({
      flag: "tiers",
      env: "TUNNEL_TIERS",
      arg: "JSON|FILE",
      kind: jsonOrFile<TierConfig>(parseTiers),
      help: "named rate tiers per session (see docs/configuration.md)",
    }),
    policy: option({
      flag: "policy",
      env: "TUNNEL_POLICY",
      arg: "JSON|FILE",
      kind: jsonOrFile((json) => PolicyFloor.parse(json)),
      help: "access rules every tunnel gets, by session (see docs/access.md)",
    }),
    tcpPorts: option({
      flag: "tcp-ports",
      env: "TUNNEL_TCP_PORTS",
      arg: "START-END",
      kind: portRange,
      group: "TCP and TLS tunnels (see docs/tcp.md)",
      shown: "off",
      help: "public ports for TCP tunnels (tunnel2 tcp), e.g. 20000-20999",
    }),
    tlsPassthroughPort: option({
      flag: "tls-passthrough-port",
      env: "TUNNEL_TLS_PASSTHROUGH_PORT",
      arg: "N",
      kind: integer(1, 65535),
      shown: "off",
      help: "port for TLS tunnels (tunnel2 tls), routed by SNI name",
    }),
    tcpPortGraceMs: option({
      flag: "tcp-port-grace-ms",
      env: "TUNNEL_TCP_PORT_GRACE_MS",
      arg: "N",
      kind: integer(0, 7 * 24 * 3_600_000),
      default: 900_000,
      help: "a session keeps its TCP port this long after its last uplink",
    }),
    oidcIssuer: option({
      flag: "oidc-issuer",
      env: "TUNNEL_OIDC_ISSUER",
      arg: "URL",
      kind: { parse: (raw, label) => httpUrl(label, raw) },
      group: "Sign-on for tunnels that ask for it (--oidc-allow on the client)",
      help: "the OpenID Connect provider visitors sign on with",
    }),
    oidcClientId: option({ flag: "oidc-client-id", env: "TUNNEL_OIDC_CLIENT_ID", arg: "ID", kind: text, help: "this entry's client id at the provider" }),
    oidcClientSecret: option({ env: "TUNNEL_OIDC_CLIENT_SECRET", kind: text, help: "its client secret (environment only)" }),
    dashboardToken: option({
      flag: "dashboard-token",
      env: "DASHBOARD_TOKEN",
      arg: "TOKEN",
      kind: text,
      help: "protect /, /metrics, /api/* (Bearer or Basic)",
    }),
    logFormat: option({
      flag: "log-format",
      env: "LOG_FORMAT",
      arg: "text|json",
      kind: choice("text", "json"),
      default: "text",
      label: "log format",
      help: "log line format",
    }),
    metrics: option({
      flag: "metrics",
      env: "TUNNEL_METRICS",
      arg: "on|off",
      kind: onOff,
      default: true,
      shown: "on",
      help: "count requests for /metrics and the dashboard",
    }),
    tlsCert: option({
      flag: "tls-cert",
      env: "TUNNEL_TLS_CERT",
      arg: "FILE",
      kind: text,
      help: "serve HTTPS/WSS with this PEM certificate (chain); needs --tls-key",
    }),
    tlsKey: option({ flag: "tls-key", env: "TUNNEL_TLS_KEY", arg: "FILE", kind: text, help: "the certificate's PEM private key" }),
    trustProxy: option({
      flag: "trust-proxy",
      env: "TRUST_PROXY",
      arg: "1|0",
      kind: yesNo,
      shown: "on under Fly",
      help: "visitor address from Fly-Client-IP / X-Forwarded-For",
    }),
    redisUrl: option({
      group: "Several entries (see docs/cluster.md)",
      flag: "redis-url",
      env: "REDIS_URL",
      arg: "URL",
      kind: redisUrl,
      shown: "unset: alone",
      help: "share sessions with other entries through this Redis",
    }),
    peerUrl: option({
      flag: "peer-url",
      env: "TUNNEL_PEER_URL",
      arg: "URL",
      kind: peerUrl,
      shown: "Fly: derived; else the listen address, or the host name on 0.0.0.0/::",
      help: "how other entries reach this one",
    }),
    peerSecret: option({
      env: "TUNNEL_PEER_SECRET",
      kind: text,
      shown: "default: derived from TUNNEL_SECRET",
      help: "proves forwarded requests come from an entry",
    }),
    instanceId: option({ env: "TUNNEL_INSTANCE_ID", kind: text, shown: "default FLY_MACHINE_ID, else generated", help: "this entry's id" }),
    uplinkTimings: SHARED_OPTIONS.uplinkTimings,
    dashboardTickMs: option({
      flag: "dashboard-tick-ms",
      env: "TUNNEL_DASHBOARD_TICK_MS",
      arg: "N",
      kind: integer(10, 60_000),
      default: 1000,
      help: "milliseconds between two points of the dashboard feed",
    }),
  },
} satisfies OptionTable<Record<string, Option<unknown>>>;
