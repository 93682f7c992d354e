import { describe, expect, test } from "bun:test";
import { FrameKind, ResetCode } from "../protocol/constants.ts";
import { type HeaderList, MAX_HEAD_BYTES, type RequestHead, type ResponseHead } from "../protocol/head.ts";
import { memorySocketPair } from "../mux/_memory-socket-pair.ts";
import { Mux } from "../mux/mux.ts";
import { BODY_IDLE_MESSAGE, type MuxStream } from "../mux/mux-stream.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import { entryConfig } from "../config/config.ts";
import { SMALL_BODY_BYTES } from "./answer-relay.ts";
import { HeadDeadlines } from "./head-deadlines.ts";
import { admit, failureResponse, type ProxyDeps, refuseHead, requestHead, visitorResponse } from "./proxy.ts";
import { RateLimits } from "./rate-limits.ts";
import { AccessPolicy } from "../access/access-policy.ts";
import { WebhookBuffers } from "./access-gate.ts";
import { SessionRegistry } from "./session-registry.ts";
import type { Uplink } from "./uplink.ts";
import { VisitorWebSockets } from "./visitor-web-sockets.ts";

const WINDOW = 256 * 1024;
const DOMAIN = "tunnel.test";

describe("requestHead()", () => {
  const visitor = (headers: Record<string, string>) =>
    new Request("http://demo.tunnel.test/a//b;p?x=1&y", { method: "POST", headers: { host: "demo.tunnel.test", ...headers } });

  test("keeps the path as sent, drops Host and hop-by-hop headers, and ends with X-Forwarded-*", () => {
    const head = requestHead(visitor({ "x-a": "1", connection: "x-b", "x-b": "2", te: "trailers" }), "198.51.100.1, 203.0.113.7", "https", true);
    expect([head.method, head.target]).toEqual(["POST", "/a//b;p?x=1&y"]);
    expect(head.headers).toEqual([
      ["x-a", "1"],
      ["x-forwarded-for", "198.51.100.1, 203.0.113.7"],
      ["x-forwarded-proto", "https"],
      ["x-forwarded-host", "demo.tunnel.test"],
    ]);
  });

  test("a Content-Length stays only when a body is sent, or when it is 0", () => {
    const lengthOf = (value: string, sendsBody: boolean) =>
      requestHead(visitor({ "content-length": value }), "1.2.3.4", "http", sendsBody).headers.find(([name]) => name === "content-length")?.[1];
    expect(lengthOf("5", true)).toBe("5");
    expect(lengthOf("5", false)).toBeUndefined();
    expect(lengthOf("0", false)).toBe("0");
  });

  test("address claims and the entries' own forwarding headers are replaced, never passed on", () => {
    const head = requestHead(
      visitor({ forwarded: "for=6.6.6.6", "x-real-ip": "6.6.6.6", "fly-client-ip": "6.6.6.6", "x-forwarded-for": "6.6.6.6", "x-tunnel2-for": "6.6.6.6" }),
      "203.0.113.7",
      "http",
      false,
    );
    expect(head.headers.filter(([, value]) => value.includes("6.6.6.6"))).toEqual([]);
  });

  test("underscore spellings of those headers go too (CGI-style servers read them as the same), other underscores stay", () => {
    const head = requestHead(visitor({ x_tunnel2_user_email: "admin@acme.com", X_Forwarded_For: "10.9.9.9", x_real_ip: "6.6.6.6", x_app_id: "7" }), "203.0.113.7", "http", false);
    expect(head.headers.map(([name]) => name)).toEqual(["x_app_id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
  });
});

describe("refuseHead()", () => {
  const head = (patch: Partial<RequestHead>): RequestHead => ({ method: "GET", target: "/", headers: [], ...patch });
  const status = (patch: Partial<RequestHead>) => refuseHead(head(patch))?.status;

  test("CONNECT, TRACE and TRACK in any case get 405, naming the method", async () => {
    for (const method of ["CONNECT", "TRACE", "track", "Trace"]) expect({ method, status: status({ method }) }).toEqual({ method, status: 405 });
    expect(await refuseHead(head({ method: "trace" }))!.text()).toBe("Method not allowed: the tunnel does not carry TRACE requests\n");
    for (const method of ["GET", "PROPFIND", "TRACES", "connect-x"]) expect(status({ method })).toBeUndefined();
  });

  test("a head up to MAX_HEAD_BYTES passes; one byte more gets 431", () => {
    // One header line counts name, value and 4 bytes (": " and CRLF); the target counts too.
    const filler = (n: number): HeaderList => [["x-fill", "a".repeat(n - "/".length - "x-fill".length - 4)]];
    expect(status({ headers: filler(MAX_HEAD_BYTES) })).toBeUndefined();
    expect(status({ headers: filler(MAX_HEAD_BYTES + 1) })).toBe(431);
  });

  test("what cannot cross the tunnel gets 400: a target that is not a path, a bad header name or value", async () => {
    expect(status({ target: "*" })).toBe(400);
    expect(status({ target: "/a b" })).toBe(400);
    expect(status({ method: "GE T" })).toBe(400);
    expect(status({ headers: [["bad name", "1"]] })).toBe(400);
    expect(status({ headers: [["x-a", "line\nbreak"]] })).toBe(400);
    expect(await refuseHead(head({ headers: [["x-a", "\u0100"]] }))!.text()).toBe(
      "Bad request: header x-a has a character the tunnel does not carry (U+0100)\n",
    );
    expect(status({ headers: [["x-a", "tab\tand latin-1 \xe9"]] })).toBeUndefined();
  });
});

describe("failureResponse()", () => {
  test("maps each way a stream ends before its head to the visitor's status, without the client's details", async () => {
    const reset = (code: number, message = "ECONNREFUSED 127.0.0.1:3000") => new StreamResetError(code, message);
    const cases: [unknown, number, string][] = [
      [new RangeError("Head too large"), 431, "Request header fields too large for the tunnel"],
      [reset(ResetCode.Timeout), 504, 'Gateway timeout: the tunnel client of session "demo" sent no response in time'],
      [reset(ResetCode.Timeout, BODY_IDLE_MESSAGE), 408, "Request timeout: the request body stopped arriving"],
      [reset(ResetCode.TargetUnreachable), 502, 'Bad gateway: the target of session "demo" could not be reached'],
      [reset(ResetCode.TooLarge), 413, "Payload too large: the request body is over the limit"],
      [reset(ResetCode.TargetError), 502, 'Bad gateway: the target of session "demo" failed'],
      [reset(ResetCode.ProtocolError), 502, 'Bad gateway: session "demo" sent an answer the tunnel cannot carry'],
      [StreamResetError.uplinkLost("socket closed"), 502, 'Bad gateway: Uplink lost: the tunnel client of session "demo" went away mid-request'],
      [reset(ResetCode.Cancel, "Reader went away"), 502, 'Bad gateway: session "demo" ended the request'],
      [reset(99), 502, 'Bad gateway: session "demo" ended the request'],
      [new Error("anything else"), 502, 'Bad gateway: session "demo" could not take the request'],
    ];
    for (const [err, status, message] of cases) {
      const response = failureResponse(err, "demo");
      expect([response.status, await response.text(), response.headers.get("x-tunnel2-error")]).toEqual([status, `${message}\n`, String(status)]);
    }
  });
});

/**
 * An entry-side stream on a live in-memory mux whose response head has
 * arrived: `respond` plays the client, with its side of the stream.
 */
async function answeredStream(respond: (client: MuxStream) => void | Promise<void>) {
  const [entrySocket, clientSocket] = memorySocketPair();
  const client = new Mux({ role: "client", socket: clientSocket, localWindow: WINDOW, peerWindow: WINDOW, onStream: (s) => void respond(s) });
  const entry = new Mux({ role: "entry", socket: entrySocket, localWindow: WINDOW, peerWindow: WINDOW });
  clientSocket.onMessage = (bytes) => client.receive(bytes);
  entrySocket.onMessage = (bytes) => entry.receive(bytes);
  const stream = entry.open({ method: "GET", target: "/", headers: [] }, true);
  const head: ResponseHead = await stream.responseHead;
  return { stream, head };
}

/** Counts the calls of a `done` callback. */
function counter() {
  const calls = { n: 0 };
  return { calls, done: () => void calls.n++ };
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe("visitorResponse()", () => {
  test("a small body of known length is read whole: done before the answer, headers as the visitor gets them", async () => {
    const { stream, head } = await answeredStream((client) => {
      client.sendHead(FrameKind.ResponseHead, {
        status: 200,
        headers: [["content-length", "5"], ["fly-replay", "app=x"], ["set-cookie", "a=1; Domain=tunnel.test"]],
      }, false);
      client.sendWhole(bytesOf("hello"));
    });
    const { calls, done } = counter();
    const response = await visitorResponse(stream, "GET", head, "demo", DOMAIN, done);
    expect(calls.n).toBe(1);
    expect([response.status, response.headers.get("content-length"), response.headers.get("fly-replay")]).toEqual([200, "5", null]);
    expect(response.headers.getSetCookie()).toEqual(["a=1"]);
    expect(await response.text()).toBe("hello");
  });

  test("a body without a length, or over SMALL_BODY_BYTES, is streamed: done once it has been read to its end", async () => {
    const big = SMALL_BODY_BYTES + 1;
    for (const headers of [[], [["content-length", String(big)]]] as HeaderList[]) {
      const rest = Promise.withResolvers<void>();
      const { stream, head } = await answeredStream(async (client) => {
        client.sendHead(FrameKind.ResponseHead, { status: 200, headers }, false);
        await client.sendBytes(new Uint8Array(1));
        await rest.promise;
        await client.sendBytes(new Uint8Array(big - 1));
        client.sendEnd();
      });
      const { calls, done } = counter();
      const response = await visitorResponse(stream, "GET", head, "demo", DOMAIN, done);
      expect(calls.n).toBe(0); // answered before the body has come
      rest.resolve();
      expect((await response.arrayBuffer()).byteLength).toBe(big);
      expect(calls.n).toBe(1);
    }
  });

  test("a small body cut short gets 502 naming the bytes that came; one reset midway gets its code's status", async () => {
    const short = await answeredStream((client) => {
      client.sendHead(FrameKind.ResponseHead, { status: 200, headers: [["content-length", "10"]] }, false);
      client.sendWhole(bytesOf("hello"));
    });
    const cut = await visitorResponse(short.stream, "GET", short.head, "demo", DOMAIN, () => {});
    expect([cut.status, await cut.text()]).toEqual([502, 'Bad gateway: session "demo" sent 5 of 10 body bytes\n']);

    const failing = await answeredStream(async (client) => {
      client.sendHead(FrameKind.ResponseHead, { status: 200, headers: [["content-length", "10"]] }, false);
      await client.sendBytes(bytesOf("hel"));
      client.reset(ResetCode.TargetError, "target closed the connection");
    });
    const { calls, done } = counter();
    const failed = await visitorResponse(failing.stream, "GET", failing.head, "demo", DOMAIN, done);
    expect([failed.status, await failed.text(), calls.n]).toEqual([502, 'Bad gateway: the target of session "demo" failed\n', 1]);
  });

  test("HEAD and 204/304 answers carry no body: the stream's body is dropped and done is called", async () => {
    for (const [method, status] of [["HEAD", 200], ["GET", 204], ["GET", 304]] as const) {
      const reset = Promise.withResolvers<StreamResetError>();
      const { stream, head } = await answeredStream(async (client) => {
        client.onReset = reset.resolve;
        client.sendHead(FrameKind.ResponseHead, { status, headers: [["content-length", "3"]] }, false);
        await client.sendBytes(bytesOf("abc"));
      });
      const { calls, done } = counter();
      const response = await visitorResponse(stream, method, head, "demo", DOMAIN, done);
      expect([response.status, response.body, calls.n]).toEqual([status, null, 1]);
      // The client hears that nobody reads the body.
      expect((await reset.promise).code).toBe(ResetCode.Cancel);
    }
  });
});

describe("admit() under a session's access rules", () => {
  test("the newest uplink's rules hold whichever uplink carries the request; refusals are counted", async () => {
    const config = entryConfig(["--domain", DOMAIN], {});
    const open = { access: undefined } as Uplink;
    const guarded = { access: AccessPolicy.compile("demo", { basicAuth: ["alice:pw"] }, undefined) } as Uplink;
    const refused: string[] = [];
    const registry = new SessionRegistry();
    const deps: ProxyDeps = {
      config,
      // The least busy uplink is the open one; the newest brought the rules.
      registry: Object.assign(registry, { pick: () => open, get: () => ({ newest: guarded }), activeStreams: () => 0 }),
      deadlines: new HeadDeadlines(config.requestTimeoutMs),
      state: { draining: false, webSockets: new VisitorWebSockets() },
      rateLimits: undefined,
      webhookBuffers: new WebhookBuffers(),
      refused: (session, reason) => refused.push(`${session} ${reason}`),
    };
    const visitor = { address: "203.0.113.7" };
    const answer = (await admit(new Request("http://demo.tunnel.test/"), "demo", deps, visitor)) as Response;
    expect([answer.status, answer.headers.get("www-authenticate")]).toEqual([401, 'Basic realm="demo", charset="UTF-8"']);
    const ok = await admit(new Request("http://demo.tunnel.test/", { headers: { authorization: `Basic ${btoa("alice:pw")}` } }), "demo", deps, visitor);
    expect(ok).toBe(open);
    expect(refused).toEqual(["demo basic_auth"]);
  });
});

describe("admit()", () => {
  /** Deps whose registry always has one uplink carrying `inFlight` streams. */
  function deps(flags: string[], inFlight = 0): ProxyDeps {
    const config = entryConfig(["--domain", DOMAIN, ...flags], {});
    const uplink = {} as Uplink;
    const registry = { pick: () => uplink, get: () => ({ newest: uplink }), activeStreams: () => inFlight } as unknown as SessionRegistry;
    return {
      config,
      registry,
      deadlines: new HeadDeadlines(config.requestTimeoutMs),
      state: { draining: false, webSockets: new VisitorWebSockets() },
      rateLimits: RateLimits.create(config.rateLimit, config.tiers),
      webhookBuffers: new WebhookBuffers(),
    };
  }
  const request = (headers: Record<string, string> = {}) => new Request("http://demo.tunnel.test/", { method: "POST", headers });

  test("past the session's rate: 429 with Retry-After and RateLimit-* headers", async () => {
    const limited = deps(["--rate-limit-rps", "2", "--rate-limit-burst", "1"]);
    expect(await admit(request(), "demo", limited, { address: "203.0.113.7" })).not.toBeInstanceOf(Response);
    const refused = (await admit(request(), "demo", limited, { address: "203.0.113.7" })) as Response;
    expect(refused.status).toBe(429);
    expect(Object.fromEntries([...refused.headers].filter(([name]) => name.startsWith("r")))).toEqual({
      "retry-after": "1",
      "ratelimit-limit": "2",
      "ratelimit-remaining": "0",
      "ratelimit-reset": "1",
      "ratelimit-policy": "2;w=1",
    });
    // Another session has its own bucket.
    expect(await admit(request(), "other", limited, { address: "203.0.113.7" })).not.toBeInstanceOf(Response);
  });

  test("MAX_STREAMS_PER_SESSION streams in flight: 503; a declared body over MAX_BODY_BYTES: 413", async () => {
    const full = (await admit(request(), "demo", deps(["--max-streams-per-session", "2"], 2), { address: "203.0.113.7" })) as Response;
    expect([full.status, await full.text()]).toEqual([503, 'Service unavailable: session "demo" has too many requests in flight\n']);
    expect(await admit(request(), "demo", deps(["--max-streams-per-session", "2"], 1), { address: "203.0.113.7" })).not.toBeInstanceOf(Response);
    expect(((await admit(request({ "content-length": "11" }), "demo", deps(["--max-body-bytes", "10"]), { address: "203.0.113.7" })) as Response).status).toBe(413);
    expect(await admit(request({ "content-length": "10" }), "demo", deps(["--max-body-bytes", "10"]), { address: "203.0.113.7" })).not.toBeInstanceOf(Response);
  });
});
