import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { ConfigError } from "./config-error.ts";
import { choice, commaList, httpUrl, integer, onOff, present, text } from "./option-kinds.ts";
import { credentialProblem } from "../access/basic-auth.ts";
import { emailPatternProblem } from "../access/email-pattern.ts";
import { rangeProblem } from "../access/ip-range.ts";
import { parseWebhookProvider } from "../access/webhook-signature.ts";
import { type Kind, type Option, option, type OptionTable } from "./option-table.ts";
import { SHARED_OPTIONS } from "./shared-options.ts";

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
const inspectAddress: Kind<InspectAddress | undefined> = {
  expected: "ADDR:PORT such as 127.0.0.1:4040, a port, or off",
  parse(raw, label) {
    const given = raw.trim();
    if (/^(off|false|no|0)$/i.test(given)) return undefined;
    const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(given);
    const port = Number(match?.[2]);
    if (!match || port > 65535) throw new ConfigError(`Invalid ${label}: ${JSON.stringify(raw)} (expected ${inspectAddress.expected})`);
    return { hostname: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port, explicit: true };
  },
};

/** Comma-separated items, each checked by `problem` (the message names the option and the item's place, never a password). */
function checkedList(problem: (item: string) => string | undefined): Kind<string[]> {
  return {
    parse(raw, label) {
      const items = commaList.parse(raw, label);
      items.forEach((item, i) => {
        const why = problem(item);
        if (why) throw new ConfigError(`Invalid ${label}: item ${i + 1}: ${why}`);
      });
      return items;
    },
  };
}

const webhookProvider: Kind<string> = {
  parse(raw, label) {
    try {
      parseWebhookProvider(raw);
    } catch (err) {
      throw new ConfigError(`Invalid ${label}: ${(err as Error).message}`);
    }
    return raw.trim();
  },
};

/** What --basic-auth on a command line costs, and what to use instead. */
export const PASSWORD_ON_COMMAND_LINE =
  "Note: a password on the command line shows in ps and in shell history: set TUNNEL_BASIC_AUTH=user:pass instead (or put it in the config file's tunnel)";

/** A session name, `[a-z0-9-]{1,63}`. */
export function sessionName(raw: string): string {
  if (!SESSION_NAME_PATTERN.test(raw)) throw new ConfigError(`Invalid session name: ${JSON.stringify(raw)} (use 1-63 of a-z, 0-9 and -)`);
  return raw;
}

/**
 * The entries from `--server` values (or TUNNEL_SERVER), comma-separated:
 * empty pieces skipped, each piece checked (the error names it), later ones
 * with an origin already listed dropped (uplinks dial only the origin, so
 * those are the same entry).
 */
const serverList: Kind<URL[]> = {
  parse(raw, label) {
    const byOrigin = new Map<string, URL>();
    for (const piece of raw.split(",")) {
      const given = piece.trim();
      if (given === "") continue;
      const url = httpUrl(label, given);
      if (!byOrigin.has(url.origin)) byOrigin.set(url.origin, url);
    }
    if (byOrigin.size === 0) throw new ConfigError(`Missing ${label}`);
    return [...byOrigin.values()];
  },
};

/**
 * A target as users write it: a port (`3000`), `host:port`, or a URL. A
 * port alone, or `localhost` with a port, means this machine's loopback on
 * whichever of 127.0.0.1 and ::1 the app listens on (`localPort`).
 */
export function localTarget(name: string, raw: string | undefined): { target: URL; localPort: boolean } {
  if (raw === undefined || raw === "") throw new ConfigError(`Missing ${name}`);
  let given = raw.trim();
  if (/^\d+$/.test(given) && (Number(given) < 1 || Number(given) > 65535)) {
    throw new ConfigError(`Invalid ${name}: port ${given} (expected 1-65535)`);
  }
  // A bare word (no scheme, no port, no dot) is a typo far more often than a host name.
  if (/^[A-Za-z][A-Za-z0-9-]*$/.test(given) && given !== "localhost") {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(given)} (expected a port such as 3000, HOST:PORT such as 192.168.1.5:8080, or a URL)`);
  }
  if (/^\d+$/.test(given)) given = `localhost:${given}`;
  const schemeGiven = /^[a-z][a-z0-9+.-]*:\/\//i.test(given);
  if (!schemeGiven) given = `http://${given}`;
  const target = httpUrl(name, given);
  // Without a scheme or a port, a host name has a dot (300o, 19300x and http//… are typos).
  if (!schemeGiven && target.port === "" && !target.hostname.includes(".") && !["localhost", "127.0.0.1"].includes(target.hostname) && !target.hostname.startsWith("[")) {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw.trim())} (expected a port such as 3000, HOST:PORT such as 192.168.1.5:8080, or a URL)`);
  }
  if (target.port === "" && /^\d+$/.test(raw.trim())) throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw)}`);
  if (target.port !== "" && (Number(target.port) < 1 || Number(target.port) > 65535)) {
    throw new ConfigError(`Invalid ${name}: port ${target.port} (expected 1-65535)`);
  }
  const localPort = target.hostname === "localhost";
  if (localPort) target.hostname = "127.0.0.1";
  return { target, localPort };
}

/**
 * A TCP or TLS tunnel's target: `tcp://HOST:PORT` or `tls://HOST:PORT`
 * (a TLS tunnel passes TLS through: the target holds the certificate), or a
 * port or `HOST:PORT` given to `tunnel2 tcp` and `tunnel2 tls`. The URL
 * keeps the scheme (`tcp:` or `tls:`); `localhost` or a port alone means
 * either loopback address, as for HTTP targets.
 */
export function tcpTarget(name: string, raw: string | undefined, scheme: "tcp" | "tls"): { target: URL; localPort: boolean } {
  if (raw === undefined || raw === "") throw new ConfigError(`Missing ${name}`);
  let given = raw.trim();
  const example = `a port such as ${scheme === "tcp" ? 22 : 8443}, or HOST:PORT such as 192.168.1.5:${scheme === "tcp" ? 5432 : 443}`;
  given = given.replace(/^(tcp|tls):\/\//i, "");
  if (/^\d+$/.test(given)) given = `localhost:${given}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given)) {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw.trim())} (a ${scheme.toUpperCase()} tunnel takes ${example}; for a web app use tunnel2 http)`);
  }
  let target: URL;
  try {
    target = new URL(`${scheme}://${given}`);
  } catch {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw.trim())} (expected ${example})`);
  }
  const port = Number(target.port);
  if (target.port === "" || port < 1 || port > 65535 || target.pathname !== "" || target.search !== "" || target.username !== "") {
    throw new ConfigError(`Invalid ${name}: ${JSON.stringify(raw.trim())} (expected ${example})`);
  }
  const localPort = target.hostname === "localhost";
  if (localPort) target.hostname = "127.0.0.1";
  return { target, localPort };
}

/** `--to`: an HTTP target, or `tcp://HOST:PORT` / `tls://HOST:PORT` for a TCP or TLS tunnel. */
export function anyTarget(name: string, raw: string | undefined): { target: URL; localPort: boolean } {
  const scheme = /^(tcp|tls):\/\//i.exec(raw?.trim() ?? "")?.[1].toLowerCase();
  return scheme ? tcpTarget(name, raw, scheme as "tcp" | "tls") : localTarget(name, raw);
}

/** The kind of tunnel a target makes. */
export function tunnelKindOf(target: URL): "http" | "tcp" | "tls" {
  return target.protocol === "tcp:" ? "tcp" : target.protocol === "tls:" ? "tls" : "http";
}

/**
 * The client's options (`src/client.ts`; `tunnel2 http` and `tunnel2 start`
 * take them too, the target and the session from their own words): each is
 * `--flag`, else its variable, else its default. `clientConfig()` turns them
 * into a `ClientConfig`; docs/configuration.md lists the same rows.
 */
export const CLIENT_OPTIONS = {
  usage: "Usage: bun run src/client.ts --server URL[,URL…] --session NAME --token TOKEN --to URL [options]\n" +
    "  (or deno task client …; each option also reads its environment variable)",
  naming: "flag",
  options: {
    server: option({
      flag: "server",
      env: "TUNNEL_SERVER",
      arg: "URL",
      kind: serverList,
      required: true,
      multiple: true,
      help: "the entry, e.g. http://127.0.0.1:8080; several: repeat the flag\n" +
        "or separate with commas (env: commas); uplinks start on the\nfirst and move to the next when one fails or goes away",
    }),
    session: option({
      flag: "session",
      env: "TUNNEL_SESSION",
      arg: "NAME",
      kind: { parse: sessionName },
      required: true,
      help: "session name: [a-z0-9-]{1,63}",
    }),
    token: option({ flag: "token", env: "TUNNEL_TOKEN", arg: "TOKEN", kind: text, required: true, keepEmpty: true, help: "the session's token" }),
    to: option({
      flag: "to",
      env: "TUNNEL_TARGET",
      arg: "URL",
      kind: { parse: (raw, label) => anyTarget(label, raw) },
      required: true,
      help: "the local service, e.g. http://127.0.0.1:3000, or a port;\ntcp://HOST:PORT for a TCP tunnel, tls://HOST:PORT for TLS\npassed through by name",
    }),
    uplinks: option({ flag: "uplinks", env: "TUNNEL_UPLINKS", arg: "N", kind: integer(1, 64), default: 2, help: "WebSocket uplinks to open" }),
    maxConns: option({
      flag: "max-conns",
      env: "TUNNEL_MAX_CONNS",
      arg: "N",
      kind: integer(1, 100_000),
      default: 1024,
      help: "concurrent requests to the target",
    }),
    windowBytes: SHARED_OPTIONS.windowBytes,
    logFormat: option({
      flag: "log-format",
      env: "TUNNEL_LOG_FORMAT",
      arg: "text|json",
      kind: choice("text", "json"),
      default: "text",
      label: "log format",
      help: "log lines as text or json; text adds a live status line on a terminal",
    }),
    logRequests: option({
      flag: "log-requests",
      env: "TUNNEL_LOG_REQUESTS",
      arg: "on|off",
      kind: onOff,
      shown: "on at a terminal",
      help: "a line per request: time, method, path, status, ms",
    }),
    inspect: option({
      flag: "inspect",
      env: "TUNNEL_INSPECT",
      arg: "ADDR:PORT",
      kind: inspectAddress,
      default: DEFAULT_INSPECT,
      shown: "127.0.0.1:4040, the next free port if taken",
      help: "the request inspector's address; loopback only unless told\notherwise",
    }),
    replica: option({
      flag: "replica",
      env: "TUNNEL_REPLICA",
      kind: present,
      switch: true,
      default: false,
      help: "serve the session alongside clients with other targets, on\npurpose (without it the entry refuses a second target)",
    }),
    noInspect: option({ flag: "no-inspect", kind: present, switch: true, default: false, help: "no request inspector (TUNNEL_INSPECT=off)" }),
    uplinkTimings: SHARED_OPTIONS.uplinkTimings,
    basicAuth: option({
      flag: "basic-auth",
      env: "TUNNEL_BASIC_AUTH",
      arg: "USER:PASS",
      kind: checkedList(credentialProblem),
      multiple: true,
      group: "Who may reach the tunnel (enforced by the entry; see docs/access.md)",
      help: "visitors must log in as one of these; several: repeat or use\ncommas (prefer the variable: a flag shows in ps)",
    }),
    allowIp: option({
      flag: "allow-ip",
      env: "TUNNEL_ALLOW_IP",
      arg: "CIDR",
      kind: checkedList(rangeProblem),
      multiple: true,
      help: "only visitors from these addresses or ranges (IPv4, IPv6)",
    }),
    denyIp: option({ flag: "deny-ip", env: "TUNNEL_DENY_IP", arg: "CIDR", kind: checkedList(rangeProblem), multiple: true, help: "no visitors from these addresses or ranges" }),
    verifyWebhook: option({
      flag: "verify-webhook",
      env: "TUNNEL_VERIFY_WEBHOOK",
      arg: "PROVIDER",
      kind: webhookProvider,
      help: "only requests signed by github, stripe, slack or\nhmac-sha256:HEADER, with TUNNEL_WEBHOOK_SECRET",
    }),
    webhookSecret: option({ env: "TUNNEL_WEBHOOK_SECRET", kind: text, help: "the webhook signing secret (environment only)" }),
    oidcAllow: option({
      flag: "oidc-allow",
      env: "TUNNEL_OIDC_ALLOW",
      arg: "PATTERN",
      kind: checkedList(emailPatternProblem),
      multiple: true,
      help: "visitors must sign on (the entry's provider) as one of these:\nalice@acme.com or *@acme.com",
    }),
    remotePort: option({
      flag: "remote-port",
      env: "TUNNEL_REMOTE_PORT",
      arg: "N",
      kind: integer(1, 65535),
      group: "TCP tunnels (tunnel2 tcp; see docs/tcp.md)",
      shown: "any free one of the entry's range",
      help: "the public port to ask for (the session keeps its port across\nreconnects either way)",
    }),
    private: option({
      flag: "private",
      env: "TUNNEL_PRIVATE",
      kind: present,
      switch: true,
      default: false,
      help: "no public port: visitors come through  tunnel2 connect  with\nthe visitor key (TUNNEL_VISITOR_KEY; made up and shown if unset)",
    }),
    visitorKey: option({ env: "TUNNEL_VISITOR_KEY", kind: text, help: "the key a private tunnel's visitors must give (environment only)" }),
    proxyProtocol: option({
      flag: "proxy-protocol",
      env: "TUNNEL_PROXY_PROTOCOL",
      kind: present,
      switch: true,
      default: false,
      help: "send the target a PROXY protocol v2 header with the visitor's\naddress first",
    }),
  },
} satisfies OptionTable<Record<string, Option<unknown>>>;
