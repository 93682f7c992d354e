/**
 * The benchmark target (its own process, so its CPU is its own):
 *   /            "ok" at once
 *   /delay?ms=N  "ok" after N ms (the origin analysis's 40 ms backend)
 *   /bytes?n=N   N bytes, streamed in 64 KiB chunks
 *   /upload      reads the body, answers its length
 *   /ws          WebSocket echo
 */
const port = Number(process.env.PORT ?? 0);
const chunk = new Uint8Array(64 * 1024).fill(120);
const server = Bun.serve({
  port,
  hostname: "127.0.0.1",
  idleTimeout: 0,
  maxRequestBodySize: Number.MAX_SAFE_INTEGER,
  async fetch(req, server) {
    const url = new URL(req.url);
    switch (url.pathname) {
      case "/ws":
        return server.upgrade(req) ? undefined : new Response("expected a WebSocket", { status: 426 });
      case "/delay":
        await Bun.sleep(Number(url.searchParams.get("ms") ?? 40));
        return new Response("ok");
      case "/bytes": {
        let left = Number(url.searchParams.get("n") ?? 0);
        return new Response(new ReadableStream({
          pull(c) {
            if (left <= 0) return c.close();
            const n = Math.min(left, chunk.byteLength);
            c.enqueue(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
            left -= n;
          },
        }, { highWaterMark: 0 }), { headers: { "content-length": url.searchParams.get("n") ?? "0" } });
      }
      case "/upload": {
        let n = 0;
        for await (const part of req.body ?? []) n += part.byteLength;
        return new Response(String(n));
      }
      default:
        return new Response("ok");
    }
  },
  websocket: {
    maxPayloadLength: 64 * 1024 * 1024,
    message(ws, message) {
      ws.send(message);
    },
  },
});
console.log(`target listening on ${server.port}`);
