import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIENT_OPTIONS, localTarget } from "./client-options.ts";
import { clientConfig, ConfigError, entryConfig } from "./config.ts";
import { ENTRY_OPTIONS } from "./entry-options.ts";
import { labelOf, type Option, type OptionTable, programFlags, readOptions, usage } from "./option-table.ts";

describe("entryConfig()", () => {
  test("defaults", () => {
    const c = entryConfig([], {});
    expect(c).toMatchObject({ port: 8080, hostname: "127.0.0.1", hostnameGiven: false, domain: "localhost", requestTimeoutMs: 30000, idleTimeoutS: 30, maxStreamsPerSession: 10000, maxUplinksPerSession: 64, windowBytes: 262144 });
  });

  test("the listen address: loopback in open development mode, every interface with a secret, or as given", () => {
    expect(entryConfig([], {}).hostname).toBe("127.0.0.1");
    expect(entryConfig([], { TUNNEL_SECRET: "s" }).hostname).toBe("0.0.0.0");
    expect(entryConfig([], { HOSTNAME: "0.0.0.0" })).toMatchObject({ hostname: "0.0.0.0", hostnameGiven: true });
    expect(entryConfig(["--hostname", "::"], { TUNNEL_SECRET: "s" }).hostname).toBe("::");
  });

  test("--help names the command that runs the entry, with the defaults it applies", () => {
    let help = "";
    try {
      entryConfig(["--help"], {});
    } catch (err) {
      help = (err as Error).message;
    }
    expect(help).toStartWith("Usage: tunnel2 serve [options]");
    expect(help).toContain("scheme of announced public URLs (http; https with --tls-cert)");
  });

  test("yes/no options take 1/0, true/false, yes/no, on/off, and say so", () => {
    for (const on of ["1", "true", "yes", "on"]) expect(entryConfig([], { TRUST_PROXY: on }).trustProxy).toBe(true);
    for (const off of ["0", "false", "no", "off"]) expect(entryConfig([], { TRUST_PROXY: off, FLY_MACHINE_ID: "m" }).trustProxy).toBe(false);
    expect(() => entryConfig([], { TRUST_PROXY: "maybe" })).toThrow('Invalid TRUST_PROXY: "maybe" (expected 1, true, yes or on; 0, false, no or off)');
  });

  test("TUNNEL_UPLINK_TIMINGS: defaults, overrides by name, and what cannot work", () => {
    expect(entryConfig([], {}).uplinkTimings).toEqual({ connectTimeoutMs: 10000, helloTimeoutMs: 10000, pingEveryMs: 5000, silenceMs: 15000, closeWaitMs: 500 });
    const env = { TUNNEL_UPLINK_TIMINGS: '{"pingEveryMs":100,"silenceMs":400}' };
    expect(entryConfig([], env).uplinkTimings).toMatchObject({ pingEveryMs: 100, silenceMs: 400, helloTimeoutMs: 10000 });
    expect(() => entryConfig([], { TUNNEL_UPLINK_TIMINGS: "{" })).toThrow("not JSON");
    expect(() => entryConfig([], { TUNNEL_UPLINK_TIMINGS: '{"pingMs":1}' })).toThrow("unknown pingMs");
    expect(() => entryConfig([], { TUNNEL_UPLINK_TIMINGS: '{"pingEveryMs":300,"silenceMs":400}' })).toThrow("at least twice pingEveryMs");
    expect(() => entryConfig([], { TUNNEL_UPLINK_TIMINGS: '{"silenceMs":2.5}' })).toThrow("whole milliseconds");
  });

  test("uplinks per session: flag, variable, bounds", () => {
    expect(entryConfig(["--max-uplinks-per-session", "3"], { MAX_UPLINKS_PER_SESSION: "9" }).maxUplinksPerSession).toBe(3);
    expect(entryConfig([], { MAX_UPLINKS_PER_SESSION: "9" }).maxUplinksPerSession).toBe(9);
    expect(() => entryConfig([], { MAX_UPLINKS_PER_SESSION: "0" })).toThrow("MAX_UPLINKS_PER_SESSION");
  });

  test("flags win over the environment", () => {
    const c = entryConfig(["--port", "9000"], { PORT: "7000", TUNNEL_DOMAIN: "Tunnel.Example.com" });
    expect(c.port).toBe(9000);
    expect(c.domain).toBe("tunnel.example.com");
    expect(entryConfig(["--idle-timeout-s", "0"], { IDLE_TIMEOUT_S: "9" }).idleTimeoutS).toBe(0);
    expect(entryConfig([], { IDLE_TIMEOUT_S: "9" }).idleTimeoutS).toBe(9);
  });

  test("the public port: the listen port unless set (behind a proxy, the proxy's)", () => {
    expect(entryConfig([], {}).publicPort).toBeUndefined();
    expect(entryConfig([], { TUNNEL_PUBLIC_PORT: "443" }).publicPort).toBe(443);
    expect(entryConfig(["--public-port", "8443"], { TUNNEL_PUBLIC_PORT: "443" }).publicPort).toBe(8443);
    expect(() => entryConfig([], { TUNNEL_PUBLIC_PORT: "0" })).toThrow("Invalid TUNNEL_PUBLIC_PORT");
  });

  test("bad values and unknown flags are clear errors", () => {
    expect(() => entryConfig([], { PORT: "http" })).toThrow('Invalid PORT: "http"');
    expect(() => entryConfig(["--nope"], {})).toThrow(ConfigError);
    expect(() => entryConfig([], { REQUEST_TIMEOUT_MS: "0" })).toThrow("REQUEST_TIMEOUT_MS");
    expect(() => entryConfig([], { IDLE_TIMEOUT_S: "256" })).toThrow("Invalid IDLE_TIMEOUT_S");
    expect(() => entryConfig(["--idle-timeout-s", "2.5"], {})).toThrow("Invalid IDLE_TIMEOUT_S");
  });
});

describe("clientConfig()", () => {
  const base = ["--server", "http://127.0.0.1:8080", "--session", "my-app", "--token", "t", "--to", "http://127.0.0.1:3000"];

  test("reads flags, with env as fallback", () => {
    const c = clientConfig(base, { TUNNEL_UPLINKS: "3" });
    expect(c.servers.map((u) => u.href)).toEqual(["http://127.0.0.1:8080/"]);
    expect(c.session).toBe("my-app");
    expect(c.uplinks).toBe(3);
    const fromEnv = clientConfig([], {
      TUNNEL_SERVER: "https://t.example.com", TUNNEL_SESSION: "a", TUNNEL_TOKEN: "x", TUNNEL_TARGET: "http://localhost:5173",
    });
    expect(fromEnv.uplinks).toBe(2);
  });

  test("names what is missing or wrong", () => {
    expect(() => clientConfig([], {})).toThrow("Missing --session");
    expect(() => clientConfig(base.map((a) => (a === "my-app" ? "My_App" : a)), {})).toThrow("Invalid session name");
    expect(() => clientConfig(base.map((a) => (a === "http://127.0.0.1:3000" ? "ftp://localhost:3000" : a)), {})).toThrow("Invalid --to");
    expect(() => clientConfig(base.map((a) => (a === "http://127.0.0.1:3000" ? "70000" : a)), {})).toThrow("--to");
    expect(() => clientConfig([...base, "--uplinks", "0"], {})).toThrow("--uplinks");
  });

  describe("several servers", () => {
    const rest = base.slice(2);
    const origins = (c: { servers: URL[] }) => c.servers.map((u) => u.origin);

    test("--server repeated, comma-separated, or both, in the order given", () => {
      expect(origins(clientConfig(["--server", "http://a:1", "--server", "https://b", ...rest], {}))).toEqual(["http://a:1", "https://b"]);
      expect(origins(clientConfig(["--server", "http://a:1, http://b:2,http://c:3", ...rest], {}))).toEqual(["http://a:1", "http://b:2", "http://c:3"]);
      expect(origins(clientConfig(["--server", "http://a:1,http://b:2", "--server", "http://c:3", ...rest], {})))
        .toEqual(["http://a:1", "http://b:2", "http://c:3"]);
    });

    test("TUNNEL_SERVER comma-separated; flags win over it", () => {
      const env = { TUNNEL_SERVER: "http://e1:1,http://e2:2" };
      expect(origins(clientConfig(rest, env))).toEqual(["http://e1:1", "http://e2:2"]);
      expect(origins(clientConfig(["--server", "http://f:3", ...rest], env))).toEqual(["http://f:3"]);
    });

    test("duplicates (same origin) are dropped, empty pieces skipped", () => {
      expect(origins(clientConfig(["--server", "http://a:1,http://a:1/,,http://b:2,", "--server", "http://A:1/x", ...rest], {})))
        .toEqual(["http://a:1", "http://b:2"]);
      expect(origins(clientConfig(["--server", "http://a", "--server", "http://a:80", ...rest], {}))).toEqual(["http://a"]);
    });

    test("a bad one is named; none at all is missing", () => {
      expect(() => clientConfig(["--server", "http://a:1,a.example.com:8080", ...rest], {}))
        .toThrow('Invalid --server (or TUNNEL_SERVER): "a.example.com:8080" needs its scheme: https://a.example.com:8080 (TLS) or http://a.example.com:8080');
      expect(() => clientConfig(["--server", "127.0.0.1:8080", ...rest], {})).toThrow('"127.0.0.1:8080" needs its scheme: https://127.0.0.1:8080 (TLS) or http://127.0.0.1:8080');
      expect(() => clientConfig(["--server", "http://a:1", "--server", "not a url", ...rest], {}))
        .toThrow('Invalid --server (or TUNNEL_SERVER): "not a url" is not a URL');
      expect(() => clientConfig(rest, { TUNNEL_SERVER: "http://ok:1,ws://b:2" })).toThrow('"ws://b:2"');
      expect(() => clientConfig(rest, {})).toThrow("Missing --server (or TUNNEL_SERVER)");
      expect(() => clientConfig(["--server", " , ", ...rest], {})).toThrow("Missing --server");
    });
  });

  test("a target by port alone or localhost means either loopback address", () => {
    const to = (target: string) => clientConfig(base.map((a) => (a === "http://127.0.0.1:3000" ? target : a)), {});
    for (const target of ["3000", "localhost:3000", "http://localhost:3000"]) {
      expect(to(target).target.href).toBe("http://127.0.0.1:3000/");
      expect(to(target).localPort).toBe(true);
    }
    expect(to("https://127.0.0.1:8443").localPort).toBe(false);
    expect(to("192.168.1.5:8080").target.href).toBe("http://192.168.1.5:8080/");
  });
});

type Table = OptionTable<Record<string, Option<unknown>>>;

/** A valid text for options whose kind has no bounds or choices to take one from. */
const SAMPLES: Record<string, string> = {
  hostname: "10.0.0.1",
  domain: "Tunnel.Example.com",
  secret: "s3cret",
  rateLimitRps: "2.5",
  tiers: '{"tiers":{"free":{"rps":1}},"sessions":{"*":"free"}}',
  dashboardToken: "t0k3n",
  tlsCert: "cert.pem",
  tlsKey: "key.pem",
  redisUrl: "redis://127.0.0.1:6379",
  peerUrl: "http://peer.internal:8080/",
  peerSecret: "peer-s3cret",
  instanceId: "entry-1",
  uplinkTimings: '{"pingEveryMs":100,"silenceMs":400}',
  server: "http://a:1,http://b:2",
  session: "my-app",
  token: "t",
  to: "3000",
  inspect: "127.0.0.1:5050",
  policy: '{"sessions":{"*":{"denyIp":["192.0.2.0/24"]}}}',
  oidcIssuer: "https://id.example.com/",
  oidcClientId: "tunnel2",
  oidcClientSecret: "s3cret",
  basicAuth: "alice:pw,bob:pa:ss",
  allowIp: "203.0.113.0/24, 2001:db8::/32",
  denyIp: "192.0.2.1",
  verifyWebhook: "github",
  webhookSecret: "whsec",
  oidcAllow: "alice@acme.com,*@example.org",
  tcpPorts: "20000-20999",
  visitorKey: "a-visitor-key-of-some-length",
};

/** A value each option refuses, with what it is told, where its kind alone cannot say (no bounds or choices). */
const BAD: Record<string, [raw: string, message: string]> = {
  domain: ["a b", 'Invalid TUNNEL_DOMAIN: "a b"'],
  rateLimitRps: ["-1", 'Invalid RATE_LIMIT_RPS: "-1" (expected a positive number)'],
  tiers: ["{", "TUNNEL_TIERS is not valid JSON"],
  redisUrl: ["http://r:6379", 'Invalid REDIS_URL: it must start with redis:// or rediss:// (got "http://r:6379")'],
  peerUrl: ["ftp://peer", 'Invalid TUNNEL_PEER_URL: "ftp://peer" (expected http:// or https://)'],
  uplinkTimings: ["{", "Invalid TUNNEL_UPLINK_TIMINGS: not JSON"],
  server: ["http://a:1,ws://b:2", 'Invalid --server (or TUNNEL_SERVER): "ws://b:2" (expected http:// or https://)'],
  session: ["My_App", 'Invalid session name: "My_App" (use 1-63 of a-z, 0-9 and -)'],
  to: ["ftp://localhost:3000", 'Invalid --to (or TUNNEL_TARGET): "ftp://localhost:3000" (expected http:// or https://)'],
  inspect: ["here:there", 'Invalid --inspect (TUNNEL_INSPECT): "here:there" (expected ADDR:PORT such as 127.0.0.1:4040, a port, or off)'],
  policy: ['{"sessions":{"*":{"denyIp":["nope"]}}}', 'TUNNEL_POLICY: session *: deny-ip: "nope" is not an IP address or CIDR range'],
  oidcIssuer: ["id.example.com", 'Invalid TUNNEL_OIDC_ISSUER: "id.example.com" needs its scheme: https://id.example.com (TLS) or http://id.example.com'],
  basicAuth: ["alice:pw,bob", "Invalid --basic-auth (TUNNEL_BASIC_AUTH): item 2: expected USER:PASSWORD with a non-empty user"],
  allowIp: ["10.0.0.0/33", 'Invalid --allow-ip (TUNNEL_ALLOW_IP): item 1: "10.0.0.0/33" is not an IP address or CIDR range'],
  denyIp: ["::1/129", 'Invalid --deny-ip (TUNNEL_DENY_IP): item 1: "::1/129" is not an IP address or CIDR range'],
  verifyWebhook: ["gitlab", 'Invalid --verify-webhook (TUNNEL_VERIFY_WEBHOOK): "gitlab" is not a webhook provider (expected github, stripe, slack or hmac-sha256:HEADER)'],
  oidcAllow: ["alice", 'Invalid --oidc-allow (TUNNEL_OIDC_ALLOW): item 1: "alice" is not an email address or *@domain'],
  tcpPorts: ["2000-1000", 'Invalid TUNNEL_TCP_PORTS: "2000-1000" (expected START-END such as 20000-20999, within 1-65535)'],
};

/** Options that take any text: nothing to refuse. */
const ANY_TEXT = new Set(["hostname", "secret", "dashboardToken", "tlsCert", "tlsKey", "peerSecret", "instanceId", "token", "noInspect", "oidcClientId", "oidcClientSecret", "webhookSecret", "replica", "private", "proxyProtocol", "visitorKey"]);

/** A valid text other than the default: a bound, another choice, or the sample. */
function sampleOf(o: Option<unknown>, key: string): string {
  if (o.switch) return "true";
  const { min, max, choices } = o.kind;
  if (min !== undefined && max !== undefined) return String(o.default === min ? max : min);
  if (choices) return choices.find((c) => o.kind.parse(c, "") !== o.default)!;
  return SAMPLES[key];
}

/** A value the option refuses and the message the table gives it. */
function badOf(table: Table, o: Option<unknown>, key: string): [string, string] | undefined {
  const label = labelOf(table, o);
  if (o.kind.max !== undefined) return [String(o.kind.max + 1), `Invalid ${label}: "${o.kind.max + 1}" (expected ${o.kind.expected})`];
  if (o.kind.choices) return ["nope", `Invalid ${label}: "nope" (expected ${o.kind.expected})`];
  return BAD[key];
}

for (const [name, table] of [["entry", ENTRY_OPTIONS], ["client", CLIENT_OPTIONS]] as [string, Table][]) {
  describe(`${name} options, each from the table`, () => {
    const read = (args: string[], env: Record<string, string> = {}) => readOptions(table, programFlags(table, args), env);

    test.each(Object.entries(table.options))("%s: its flag, its variable, its default, and a value it refuses", (key, o) => {
      const raw = sampleOf(o, key);
      expect(raw).toBeDefined();
      const value = o.kind.parse(raw, labelOf(table, o));
      expect(value).not.toEqual(o.default);
      if (o.flag) expect(read(o.switch ? [`--${o.flag}`] : [`--${o.flag}`, raw])[key]).toEqual(value);
      if (o.env) {
        expect(read([], { [o.env]: raw })[key]).toEqual(value);
        if (o.flag && !o.switch) expect(read([`--${o.flag}`, raw], { [o.env]: sampleOf({ ...o, default: value }, key) })[key]).toEqual(value);
      }
      if (o.required) {
        expect(() => read([])[key]).toThrow(`Missing ${labelOf(table, o)}`);
      } else {
        expect(read([])[key]).toEqual(o.default);
        if (o.env && !o.keepEmpty) expect(read([], { [o.env]: "" })[key]).toEqual(o.default);
      }
      const bad = badOf(table, o, key);
      expect(bad !== undefined || ANY_TEXT.has(key)).toBe(true);
      if (bad) {
        const [badRaw, message] = bad;
        expect(() => read(o.flag ? [`--${o.flag}=${badRaw}`] : [], o.flag ? {} : { [o.env!]: badRaw })[key]).toThrow(message);
      }
    });

    test("--help lists every option: its flag, its variable and its default", () => {
      let help = "";
      try {
        programFlags(table, ["--help"]);
      } catch (err) {
        help = (err as Error).message;
      }
      expect(help).toBe(usage(table));
      expect(help).toStartWith("Usage:");
      for (const o of Object.values(table.options)) {
        const line = help.split("\n").find((l) => (o.flag ? l.startsWith(`  --${o.flag} `) : l.trim().startsWith(o.env!)))!;
        expect(line).toBeDefined();
        if (o.env) expect(line).toContain(` ${o.env} `);
        if (o.shown) expect(help).toContain(o.shown);
      }
    });
  });
}

describe("entryConfig() puts the options together", () => {
  test("each simple option reaches the field of its name", () => {
    const defaults = entryConfig([], {}) as unknown as Record<string, unknown>;
    for (const [key, o] of Object.entries(ENTRY_OPTIONS.options)) {
      if (!(key in defaults) || !o.flag) continue;
      const raw = sampleOf(o, key);
      expect((entryConfig([`--${o.flag}`, raw], {}) as unknown as Record<string, unknown>)[key]).toEqual(o.kind.parse(raw, key));
    }
    expect(defaults.dashboardTickMs).toBe(1000);
    expect(entryConfig(["--dashboard-tick-ms", "100"], {}).dashboardTickMs).toBe(100);
    expect(entryConfig([], { TUNNEL_DASHBOARD_TICK_MS: "10" }).dashboardTickMs).toBe(10);
    expect(() => entryConfig([], { TUNNEL_DASHBOARD_TICK_MS: "9" })).toThrow('Invalid TUNNEL_DASHBOARD_TICK_MS: "9" (expected an integer from 10 to 60000)');
  });

  test("sign-on: the issuer needs a client id and TUNNEL_SECRET; a client id alone needs an issuer", () => {
    expect(entryConfig([], {}).signOn).toBeUndefined();
    const env = { TUNNEL_OIDC_ISSUER: "https://id.example.com", TUNNEL_OIDC_CLIENT_ID: "t2", TUNNEL_OIDC_CLIENT_SECRET: "s", TUNNEL_SECRET: "k" };
    expect(entryConfig([], env).signOn).toEqual({ issuer: new URL("https://id.example.com"), clientId: "t2", clientSecret: "s" });
    expect(() => entryConfig([], { ...env, TUNNEL_OIDC_CLIENT_ID: "" })).toThrow("TUNNEL_OIDC_ISSUER needs TUNNEL_OIDC_CLIENT_ID");
    expect(() => entryConfig([], { ...env, TUNNEL_SECRET: "" })).toThrow("TUNNEL_OIDC_ISSUER needs TUNNEL_SECRET");
    expect(() => entryConfig([], { TUNNEL_OIDC_CLIENT_ID: "t2" })).toThrow("TUNNEL_OIDC_CLIENT_ID and TUNNEL_OIDC_CLIENT_SECRET need TUNNEL_OIDC_ISSUER");
  });

  test("client access rules: the webhook secret and provider come together", () => {
    const base = ["--server", "http://e:1", "--session", "s", "--token", "t", "--to", "3000"];
    expect(clientConfig(base, {}).access).toBeUndefined();
    expect(clientConfig([...base, "--verify-webhook", "github"], { TUNNEL_WEBHOOK_SECRET: "w" }).access).toEqual({ webhook: { provider: "github", secret: "w" } });
    expect(() => clientConfig([...base, "--verify-webhook", "github"], {})).toThrow("--verify-webhook github needs the signing secret in TUNNEL_WEBHOOK_SECRET");
    expect(() => clientConfig(base, { TUNNEL_WEBHOOK_SECRET: "w" })).toThrow("TUNNEL_WEBHOOK_SECRET needs --verify-webhook");
    expect(clientConfig([...base, "--allow-ip", "10.0.0.0/8", "--allow-ip", "::1"], { TUNNEL_BASIC_AUTH: "a:b" }).access)
      .toEqual({ basicAuth: ["a:b"], allowIp: ["10.0.0.0/8", "::1"] });
  });

  test("rate limit: burst defaults to a second's worth and needs a rate", () => {
    expect(entryConfig([], {}).rateLimit).toBeUndefined();
    expect(entryConfig(["--rate-limit-rps", "2.5"], {}).rateLimit).toEqual({ rps: 2.5, burst: 3 });
    expect(entryConfig([], { RATE_LIMIT_RPS: "0.2", RATE_LIMIT_BURST: "7" }).rateLimit).toEqual({ rps: 0.2, burst: 7 });
    expect(entryConfig([], { RATE_LIMIT_RPS: "0.2" }).rateLimit).toEqual({ rps: 0.2, burst: 1 });
    expect(() => entryConfig([], { RATE_LIMIT_BURST: "7" })).toThrow("RATE_LIMIT_BURST needs RATE_LIMIT_RPS");
  });

  test("TLS: both files, PEM; public URLs then default to https", () => {
    const dir = mkdtempSync(join(tmpdir(), "tunnel2-config-"));
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
    const c = entryConfig(["--tls-cert", cert], { TUNNEL_TLS_KEY: key });
    expect(c.tls?.cert).toContain("BEGIN CERTIFICATE");
    expect(c.publicScheme).toBe("https");
    expect(entryConfig(["--tls-cert", cert, "--tls-key", key, "--public-scheme", "http"], {}).publicScheme).toBe("http");
    expect(entryConfig([], {}).publicScheme).toBe("http");
    expect(() => entryConfig(["--tls-cert", cert], {})).toThrow("TLS needs both --tls-cert and --tls-key");
    expect(() => entryConfig(["--tls-cert", key, "--tls-key", key], {})).toThrow("is not PEM");
    expect(() => entryConfig(["--tls-cert", join(dir, "none"), "--tls-key", key], {})).toThrow("Cannot read --tls-cert file");
  });

  test("several entries: REDIS_URL needs a secret; the peer URL and instance id follow Fly", () => {
    expect(entryConfig([], { TUNNEL_PEER_URL: "ftp://ignored-without-redis" }).cluster).toBeUndefined();
    expect(() => entryConfig(["--redis-url", "redis://r:6379"], {})).toThrow("REDIS_URL needs TUNNEL_SECRET or TUNNEL_PEER_SECRET");
    const c = entryConfig(["--redis-url", "redis://r:6379", "--peer-url", "http://me:8080/"], { TUNNEL_SECRET: "s", TUNNEL_INSTANCE_ID: "a1" });
    expect(c.cluster).toEqual({ redisUrl: "redis://r:6379", instanceId: "a1", peerUrl: "http://me:8080", flyMachineId: undefined, peerSecret: "s" });
    const fly = entryConfig(["--port", "9000"], { REDIS_URL: "redis://r", TUNNEL_PEER_SECRET: "p", FLY_MACHINE_ID: "m1", FLY_APP_NAME: "app" });
    expect(fly.cluster).toMatchObject({ instanceId: "m1", peerUrl: "http://m1.vm.app.internal:9000", flyMachineId: "m1", peerSecret: "p" });
    expect(fly.trustProxy).toBe(true);
    expect(() => entryConfig([], { REDIS_URL: "redis://r", TUNNEL_SECRET: "s", TUNNEL_INSTANCE_ID: "a b" })).toThrow('Invalid instance id "a b"');
  });

  test("tiers: inline JSON or a file", () => {
    const file = join(mkdtempSync(join(tmpdir(), "tunnel2-tiers-")), "tiers.json");
    writeFileSync(file, SAMPLES.tiers);
    expect(entryConfig(["--tiers", file], {}).tiers).toEqual(entryConfig([], { TUNNEL_TIERS: SAMPLES.tiers }).tiers!);
    expect(() => entryConfig([], { TUNNEL_TIERS: `${file}.none` })).toThrow("Cannot read TUNNEL_TIERS file");
  });
});

describe("clientConfig() puts the options together", () => {
  const base = ["--server", "http://127.0.0.1:8080", "--session", "my-app", "--token", "t", "--to", "3000"];

  test("the inspector: --no-inspect or off turns it off", () => {
    expect(clientConfig(base, {}).inspect).toEqual({ hostname: "127.0.0.1", port: 4040, explicit: false });
    expect(clientConfig([...base, "--inspect", "[::1]:5000"], {}).inspect).toEqual({ hostname: "::1", port: 5000, explicit: true });
    expect(clientConfig([...base, "--no-inspect"], { TUNNEL_INSPECT: "127.0.0.1:5000" }).inspect).toBeUndefined();
    expect(clientConfig(base, { TUNNEL_INSPECT: "off" }).inspect).toBeUndefined();
  });

  test("an empty token is a token; an empty session is missing", () => {
    expect(clientConfig(base.map((a) => (a === "t" ? "" : a)), {}).token).toBe("");
    expect(() => clientConfig(base.map((a) => (a === "my-app" ? "" : a)), {})).toThrow("Missing --session (or TUNNEL_SESSION)");
  });
});

describe("localTarget()", () => {
  test("a port, HOST:PORT, a dotted host or a URL is taken; a typo is named, never taken for a host", () => {
    const href = (raw: string) => localTarget("target", raw).target.href;
    expect(href("3000")).toBe("http://127.0.0.1:3000/");
    expect(href("nas:8080")).toBe("http://nas:8080/");
    expect(href("app.internal")).toBe("http://app.internal/");
    expect(href("192.168.1.5:8080/base")).toBe("http://192.168.1.5:8080/base");
    expect(href("https://myhost")).toBe("https://myhost/");
    for (const typo of ["abc", "300o", "19300x", "http//127.0.0.1:19300"]) {
      expect(() => localTarget("target", typo)).toThrow(`Invalid target: ${JSON.stringify(typo)} (expected a port such as 3000`);
    }
  });
});
