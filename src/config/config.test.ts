import { describe, expect, test } from "bun:test";
import { clientConfig, ConfigError, entryConfig } from "./config.ts";

describe("entryConfig()", () => {
  test("defaults", () => {
    const c = entryConfig([], {});
    expect(c).toMatchObject({ port: 8080, hostname: "0.0.0.0", domain: "localhost", requestTimeoutMs: 30000, idleTimeoutS: 30, maxStreamsPerSession: 10000, maxUplinksPerSession: 64, windowBytes: 262144 });
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
        .toThrow('Invalid --server (or TUNNEL_SERVER): "a.example.com:8080" (expected http:// or https://)');
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
