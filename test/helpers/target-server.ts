/**
 * The real HTTP target the end-to-end tests tunnel to: one route per
 * behaviour, plus a record of what it saw so tests can assert on the far side.
 */
import { createHash } from "node:crypto";

/** Deterministic bytes: chunk i of a download is filled with i % 251. */
export function patternChunk(index: number, size: number): Uint8Array {
  return new Uint8Array(size).fill(index % 251);
}

/** SHA-256 of a download of `total` bytes in `chunk`-sized pieces. */
export function patternHash(total: number, chunk: number): string {
  const hash = createHash("sha256");
  for (let i = 0, sent = 0; sent < total; i++, sent += chunk) hash.update(patternChunk(i, Math.min(chunk, total - sent)));
  return hash.digest("hex");
}

/**
 * Reads a `/sse` answer to its end: for each event, how many milliseconds
 * after the target wrote it it arrived.
 */
export async function eventDelays(body: ReadableStream<Uint8Array>): Promise<number[]> {
  const delays: number[] = [];
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of body) {
    text += decoder.decode(chunk, { stream: true });
    for (const m of text.matchAll(/data: event \d+ at (\d+)\n\n/g)) delays.push(Date.now() - Number(m[1]));
    text = text.replace(/data: event \d+ at \d+\n\n/g, "");
  }
  return delays;
}

/** Reads a body to its end: how many bytes, and their SHA-256 in hex. */
export async function readHashed(body: ReadableStream<Uint8Array>): Promise<{ bytes: number; hash: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, hash: hash.digest("hex") };
}

export interface TargetState {
  /** Per request id (x-test-id header): events seen. */
  events: Map<string, string[]>;
}

export function startTarget(): { port: number; state: TargetState; stop(): void } {
  const state: TargetState = { events: new Map() };
  const note = (req: Request, event: string) => {
    const id = req.headers.get("x-test-id");
    if (!id) return;
    const list = state.events.get(id) ?? [];
    list.push(event);
    state.events.set(id, list);
  };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(req) {
      const url = new URL(req.url);
      const rawTarget = req.url.slice(req.url.indexOf("/", 8));
      req.signal.addEventListener("abort", () => note(req, "aborted"));
      switch (url.pathname) {
        case "/echo": {
          const body = new Uint8Array(await req.arrayBuffer());
          return Response.json({
            method: req.method,
            target: rawTarget,
            headers: [...req.headers],
            bodyLength: body.byteLength,
            bodyHash: createHash("sha256").update(body).digest("hex"),
          }, { headers: { "x-echo": "1" } });
        }
        case "/upload": {
          const hash = createHash("sha256");
          let bytes = 0;
          for await (const chunk of req.body!) {
            if (bytes === 0) note(req, "first-chunk");
            hash.update(chunk);
            bytes += chunk.byteLength;
          }
          note(req, "upload-done");
          return Response.json({ bytes, hash: hash.digest("hex") });
        }
        case "/download": {
          const total = Number(url.searchParams.get("bytes"));
          const chunk = 64 * 1024;
          let i = 0, sent = 0;
          return new Response(new ReadableStream({
            pull(c) {
              if (sent >= total) return c.close();
              const n = Math.min(chunk, total - sent);
              c.enqueue(patternChunk(i++, n));
              sent += n;
            },
          }, { highWaterMark: 0 }), { headers: { "content-type": "application/octet-stream" } });
        }
        case "/sse": {
          const count = Number(url.searchParams.get("count") ?? 3);
          const every = Number(url.searchParams.get("every") ?? 300);
          let n = 0;
          return new Response(new ReadableStream({
            async pull(c) {
              if (n > 0) await Bun.sleep(every);
              if (n === count) return c.close();
              c.enqueue(new TextEncoder().encode(`data: event ${n++} at ${Date.now()}\n\n`));
            },
          }, { highWaterMark: 0 }), { headers: { "content-type": "text/event-stream", "cache-control": "no-cache" } });
        }
        case "/cookies": {
          const headers = new Headers({ "x-one": "1", "keep-alive": "timeout=5", "x-conn-drop": "secret", connection: "x-conn-drop" });
          headers.append("set-cookie", "a=1; Path=/; HttpOnly");
          headers.append("set-cookie", "b=2, with comma; Path=/");
          return new Response("cookies", { headers });
        }
        case "/fly-headers":
          // Headers Fly's proxy acts on: a tenant's target must never get them to Fly.
          return new Response("steer", {
            headers: { "fly-replay": "app=internal-billing;state=x", "fly-replay-cache": "*/*", "fly-replay-cache-ttl-secs": "60", "x-kept": "1" },
          });
        case "/redirect":
          return new Response(null, { status: 302, headers: { location: "/elsewhere" } });
        case "/status": {
          const code = Number(url.searchParams.get("code"));
          return new Response(code === 204 || code === 304 ? null : "body", { status: code, headers: { etag: '"v1"' } });
        }
        case "/gzip": {
          const plain = new TextEncoder().encode("compress me ".repeat(2000));
          const gz = Bun.gzipSync(plain);
          return new Response(gz, { headers: { "content-encoding": "gzip", "content-type": "text/plain", "x-plain-length": String(plain.byteLength) } });
        }
        case "/slow-head":
          await Bun.sleep(Number(url.searchParams.get("ms") ?? 3000));
          return new Response("late");
        case "/hang":
          note(req, "started");
          await new Promise((resolve) => req.signal.addEventListener("abort", resolve));
          return new Response("never");
        case "/abort-mid-body": {
          let sent = 0;
          return new Response(new ReadableStream({
            async pull(c) {
              if (sent === 3) {
                // The connection is reset mid-body; an Error here would make Bun print a stack trace on every passing run.
                c.error(undefined);
                return;
              }
              sent++;
              c.enqueue(new Uint8Array(16 * 1024).fill(65));
              await Bun.sleep(20);
            },
          }, { highWaterMark: 0 }));
        }
        default:
          return new Response(`not found: ${url.pathname}`, { status: 404 });
      }
    },
  });
  return { port: server.port!, state, stop: () => server.stop(true) };
}
