import { describe, expect, test } from "bun:test";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { behindTrustedProxy, forwardedFor } from "./visitor-address.ts";

const env = { remoteAddress: "10.0.0.2" } as EntryBindings;
const request = (headers: Record<string, string>) => new Request("http://demo.localhost/", { headers });

describe("visitor address", () => {
  test("untrusted: the visitor's chain, then the address it connected from", () => {
    expect(forwardedFor(request({}), env)).toBe("10.0.0.2");
    expect(forwardedFor(request({ "x-forwarded-for": "1.2.3.4", "fly-client-ip": "5.6.7.8" }), env)).toBe("1.2.3.4, 10.0.0.2");
  });

  test("behind a trusted proxy: on Fly, Fly-Client-IP first, else the last X-Forwarded-For entry; the chain is the proxy's", () => {
    const fly = behindTrustedProxy(request({ "fly-client-ip": "198.51.100.7", "x-forwarded-for": "1.1.1.1, 198.51.100.7" }), env, true);
    expect(fly.remoteAddress).toBe("198.51.100.7");
    expect(forwardedFor(request({}), fly)).toBe("1.1.1.1, 198.51.100.7");
    const caddy = behindTrustedProxy(request({ "x-forwarded-for": "203.0.113.1, 2001:db8::1" }), env, false);
    expect(caddy.remoteAddress).toBe("2001:db8::1");
    const flyOnly = behindTrustedProxy(request({ "fly-client-ip": "198.51.100.7" }), env, true);
    expect(forwardedFor(request({}), flyOnly)).toBe("198.51.100.7");
  });

  test("off Fly, a Fly-Client-IP is the visitor's own claim (Caddy and nginx pass it through): never read", () => {
    const spoofed = behindTrustedProxy(request({ "fly-client-ip": "10.1.2.3", "x-forwarded-for": "127.0.0.1" }), env, false);
    expect(spoofed.remoteAddress).toBe("127.0.0.1");
    expect(behindTrustedProxy(request({ "fly-client-ip": "10.1.2.3" }), env, false)).toBe(env);
  });

  test("behind a trusted proxy, something that is not an address is ignored", () => {
    expect(behindTrustedProxy(request({ "fly-client-ip": "evil, 1.2.3.4" }), env, true)).toBe(env);
    expect(behindTrustedProxy(request({ "x-forwarded-for": "1.2.3.4, not-an-ip" }), env, true)).toBe(env);
    expect(behindTrustedProxy(request({}), env, true)).toBe(env);
  });
});
