import { describe, expect, test } from "bun:test";
import { permanentFailure, waitingHint } from "./connect-failure.ts";

describe("waitingHint", () => {
  // The reasons as Bun and Deno give them here (docs/configuration.md).
  test("https to a plain entry: use http://", () => {
    const bun = "WebSocket connection to 'wss://127.0.0.1:8080/_tunnel/connect' failed: TLS handshake failed: error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER";
    const deno = "received corrupt message of type InvalidContentType";
    for (const reason of [bun, deno]) {
      expect(waitingHint(reason, new URL("https://127.0.0.1:8080"))).toBe("it does not speak TLS there: if the entry has no certificate, use --server http://127.0.0.1:8080");
    }
  });

  test("http to a TLS entry: use https://", () => {
    for (const reason of ["WebSocket connection to 'ws://t.internal:8443/_tunnel/connect' failed: Connection ended", "Connection closed during the WebSocket handshake"]) {
      expect(waitingHint(reason, new URL("http://t.internal:8443"))).toBe("it closes the connection: if the entry serves TLS (--tls-cert), use --server https://t.internal:8443");
    }
  });

  test("an address that answers HTTP but is no entry (a session's, say); nothing when nothing points anywhere", () => {
    expect(waitingHint("WebSocket connection to 'ws://myapp.localhost:8080/_tunnel/connect' failed: Expected 101 status code: 502", new URL("http://myapp.localhost:8080")))
      .toStartWith("it answers HTTP 502, not as a tunnel2 entry: is myapp.localhost:8080 a session's address?");
    expect(waitingHint("WebSocket connection to 'ws://127.0.0.1:8080/_tunnel/connect' failed: Failed to connect", new URL("http://127.0.0.1:8080"))).toBeUndefined();
  });
});

describe("permanentFailure", () => {
  test("an untrusted certificate and a CA used as the entry's own are said with their fix; a refused port is not", async () => {
    expect(await permanentFailure("invalid peer certificate: UnknownIssuer", new URL("https://t.internal"))).toContain("NODE_EXTRA_CA_CERTS=ca.pem");
    expect(await permanentFailure("invalid peer certificate: CaUsedAsEndEntity", new URL("https://t.internal"))).toContain("give the entry a leaf certificate");
    expect(await permanentFailure("Failed to connect", new URL("http://127.0.0.1:1"))).toBeUndefined();
  });
});
