import { afterEach, describe, expect, test } from "bun:test";
import { connectBunTarget } from "../adapter/bun/target-socket.ts";
import type { TargetRequest } from "../runtime/client-runtime.ts";
import { createHttp1Fetch } from "./target-pool.ts";

interface RawSocket {
  write(data: string | Uint8Array): number;
  end(): void;
  terminate(): void;
  data: { id: number; seen: string };
}

/** A target written by hand: `answer` gets each connection's bytes so far and may write. */
function rawTarget(answer: (socket: RawSocket, seen: string, requests: number) => void) {
  let connections = 0;
  const requests: string[] = [];
  const server = Bun.listen<{ id: number; seen: string }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { id: ++connections, seen: "" };
      },
      data(socket, bytes) {
        socket.data.seen += Buffer.from(bytes).toString("latin1");
        while (socket.data.seen.includes("\r\n\r\n")) {
          const end = socket.data.seen.indexOf("\r\n\r\n") + 4;
          const head = socket.data.seen.slice(0, end);
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          const chunked = /transfer-encoding: chunked/i.test(head);
          const bodyEnd = chunked ? socket.data.seen.indexOf("0\r\n\r\n", end) + 5 : end + length;
          if ((chunked && bodyEnd < 5) || socket.data.seen.length < bodyEnd) return;
          const request = socket.data.seen.slice(0, bodyEnd);
          socket.data.seen = socket.data.seen.slice(bodyEnd);
          requests.push(request);
          answer(socket as unknown as RawSocket, request, requests.length);
        }
      },
    },
  });
  stops.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${server.port}`, requests, connections: () => connections };
}

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const get = (url: string, extra: Partial<TargetRequest> = {}): TargetRequest => ({
  url,
  method: "GET",
  headers: [],
  body: null,
  signal: new AbortController().signal,
  ...extra,
});
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

describe("createHttp1Fetch()", () => {
  test("reuses one keep-alive connection; sends host and the headers as given, nothing else", async () => {
    const target = rawTarget((s) => s.write(ok("hi")));
    const fetchTarget = createHttp1Fetch(connectBunTarget);
    for (let i = 0; i < 3; i++) {
      const r = await fetchTarget(get(`${target.url}/a?i=${i}`, { headers: [["x-one", "1"], ["X-Two", "2"]] }));
      expect(r.status).toBe(200);
      expect(text(await r.bytes())).toBe("hi");
    }
    expect(target.connections()).toBe(1);
    expect(target.requests[2]).toBe(`GET /a?i=2 HTTP/1.1\r\nhost: ${target.url.slice(7)}\r\nx-one: 1\r\nX-Two: 2\r\n\r\n`);
  });

  test("Connection: close and HTTP/1.0 answers are not reused", async () => {
    const target = rawTarget((s, _, n) => s.write(n === 1 ? ok("a", "connection: close\r\n") : "HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb"));
    const fetchTarget = createHttp1Fetch(connectBunTarget);
    expect(text(await (await fetchTarget(get(target.url + "/"))).bytes())).toBe("a");
    expect(text(await (await fetchTarget(get(target.url + "/"))).bytes())).toBe("b");
    await (await fetchTarget(get(target.url + "/"))).bytes();
    expect(target.connections()).toBe(3);
  });

  test("a kept connection the target dropped unanswered: a bodiless request is sent again, one with a body fails", async () => {
    const target = rawTarget((s, _, n) => (n % 2 === 0 ? s.terminate() : s.write(ok("fine"))));
    const fetchTarget = createHttp1Fetch(connectBunTarget);
    await (await fetchTarget(get(target.url + "/"))).bytes();
    const again = await fetchTarget(get(target.url + "/"));
    expect(text(await again.bytes())).toBe("fine");
    expect(target.connections()).toBe(2);
    const post = fetchTarget(get(target.url + "/", { method: "POST", headers: [["content-length", "2"]], body: new Blob(["hi"]).stream() }));
    await expect(post).rejects.toThrow(/closed the connection|Connection to the target failed/);
  });

  test("request bodies: Content-Length as declared, chunked without one; a short body fails its request", async () => {
    const target = rawTarget((s) => s.write(ok("ok")));
    const fetchTarget = createHttp1Fetch(connectBunTarget);
    await (await fetchTarget(get(target.url + "/", { method: "PUT", headers: [["content-length", "5"]], body: new Blob(["he", "llo"]).stream() }))).bytes();
    expect(target.requests[0]).toEndWith("content-length: 5\r\n\r\nhello");
    await (await fetchTarget(get(target.url + "/", { method: "POST", body: new Blob(["abc"]).stream() }))).bytes();
    expect(target.requests[1]).toEndWith("transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    await (await fetchTarget(get(target.url + "/", { method: "POST" }))).bytes();
    expect(target.requests[2]).toEndWith("content-length: 0\r\n\r\n");
    const short = fetchTarget(get(target.url + "/", { method: "POST", headers: [["content-length", "9"]], body: new Blob(["abc"]).stream() }));
    await expect(short).rejects.toThrow(/Request body of 3 bytes, its Content-Length is 9/);
  });

  test("a streamed body arrives in order; an abort ends it with an error", async () => {
    const target = rawTarget((s) => {
      s.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      s.write("5\r\nfirst\r\n");
    });
    const abort = new AbortController();
    const r = await createHttp1Fetch(connectBunTarget)(get(target.url + "/", { signal: abort.signal }));
    const reader = r.body!.getReader();
    expect(text((await reader.read()).value!)).toBe("first");
    abort.abort();
    await expect(reader.read()).rejects.toThrow("Cancelled");
  });

  test("bytes after the response, or a malformed answer, close the connection and fail only that request", async () => {
    const target = rawTarget((s, _, n) => s.write(n === 1 ? ok("a") + "JUNK" : n === 2 ? "HTTP/1.1 OK\r\n\r\n" : ok("c")));
    const fetchTarget = createHttp1Fetch(connectBunTarget);
    expect(text(await (await fetchTarget(get(target.url + "/"))).bytes())).toBe("a");
    await expect(fetchTarget(get(target.url + "/"))).rejects.toThrow(/no HTTP\/1.x status line/);
    expect(text(await (await fetchTarget(get(target.url + "/"))).bytes())).toBe("c");
    expect(target.connections()).toBe(3);
  });

  test("a target that is down is named in the error", async () => {
    await expect(createHttp1Fetch(connectBunTarget)(get("http://127.0.0.1:9/"))).rejects.toThrow("Cannot connect to 127.0.0.1:9: ECONNREFUSED");
  });
});

describe("createHttp1Fetch() and a target that accepts but never speaks TLS", () => {
  test("a cancelled request does not wait for the handshake", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    stops.push(() => silent.stop(true));
    const abort = new AbortController();
    const request = createHttp1Fetch(connectBunTarget)(get(`https://127.0.0.1:${silent.port}/`, { signal: abort.signal }));
    setTimeout(() => abort.abort(), 100);
    await expect(request).rejects.toThrow("Cancelled");
  });
});
