import { describe, expect, test } from "bun:test";
import { clientConfig, ConfigError, entryConfig } from "./config.ts";

describe("entryConfig()", () => {
  test("defaults", () => {
    const c = entryConfig([], {});
    expect(c).toMatchObject({ port: 8080, hostname: "0.0.0.0", domain: "localhost", requestTimeoutMs: 30000, idleTimeoutS: 30, maxStreamsPerSession: 10000, windowBytes: 262144 });
  });

  test("flags win over the environment", () => {
    const c = entryConfig(["--port", "9000"], { PORT: "7000", TUNNEL_DOMAIN: "Tunnel.Example.com" });
    expect(c.port).toBe(9000);
    expect(c.domain).toBe("tunnel.example.com");
    expect(entryConfig(["--idle-timeout-s", "0"], { IDLE_TIMEOUT_S: "9" }).idleTimeoutS).toBe(0);
    expect(entryConfig([], { IDLE_TIMEOUT_S: "9" }).idleTimeoutS).toBe(9);
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
    expect(c.server.href).toBe("http://127.0.0.1:8080/");
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
    expect(() => clientConfig(base.map((a) => (a === "http://127.0.0.1:3000" ? "localhost:3000" : a)), {})).toThrow("Invalid --to");
    expect(() => clientConfig([...base, "--uplinks", "0"], {})).toThrow("--uplinks");
  });
});
