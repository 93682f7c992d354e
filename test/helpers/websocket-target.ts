/**
 * A WebSocket target for tests, in the test process: `/echo` echoes every
 * message (text stays text) and closes with the code and reason it is sent
 * as `close:CODE:REASON`; it picks the first offered subprotocol in
 * `chat`, `superchat`, and sets a cookie on its 101; `/refuse` answers 403 with a body; `/cookie` echoes
 * the Cookie, Origin and X-Forwarded-Host it got as its first message;
 * `/page` serves an HTML page that opens `/echo` over WebSocket (for browsers);
 * `/flood?mib=N` sends N binary messages of 1 MiB as fast as the socket drains.
 */
import type { Server, ServerWebSocket } from "bun";

interface SocketInfo {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  pump?: () => void;
}

export interface WebSocketTarget {
  port: number;
  /** Close codes and reasons the target's sockets saw, by path. */
  closes: { code: number; reason: string }[];
  /** MiB the /flood sockets have handed to their socket so far. */
  flooded: { mib: number };
  stop(): void;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>ws page</title><pre id="log"></pre>
<script>
  const log = (line) => (document.getElementById("log").textContent += line + "\\n");
  const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/echo", ["chat"]);
  ws.onopen = () => { log("open " + ws.protocol); ws.send("hello from the browser"); };
  ws.onmessage = (e) => { log("echo " + e.data); window.echoed = e.data; };
  ws.onclose = (e) => log("close " + e.code);
</script>`;

export function startWebSocketTarget(): WebSocketTarget {
  const closes: { code: number; reason: string }[] = [];
  const flooded = { mib: 0 };
  const mebibyte = new Uint8Array(1024 * 1024).fill(7);
  const server: Server<SocketInfo> = Bun.serve<SocketInfo>({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request, server) {
      const url = new URL(request.url);
      if (url.pathname === "/page") return new Response(PAGE, { headers: { "content-type": "text/html" } });
      if (url.pathname === "/refuse") return new Response("no sockets here", { status: 403 });
      const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
      const chosen = offered.find((p) => p === "chat" || p === "superchat");
      const ok = server.upgrade(request, {
        data: { path: url.pathname, query: url.searchParams, headers: Object.fromEntries(request.headers) },
        headers: { "set-cookie": "ws-seen=yes; Path=/", ...(chosen ? { "sec-websocket-protocol": chosen } : {}) },
      });
      return ok ? undefined : new Response("expected a WebSocket", { status: 426 });
    },
    websocket: {
      maxPayloadLength: 64 * 1024 * 1024,
      backpressureLimit: 256 * 1024 * 1024,
      open(ws: ServerWebSocket<SocketInfo>) {
        if (ws.data.path === "/flood") {
          let left = Number(ws.data.query.get("mib") ?? 1);
          ws.data.pump = () => {
            while (left > 0 && ws.readyState === 1 && ws.getBufferedAmount() < 1024 * 1024) {
              ws.send(mebibyte);
              left--;
              flooded.mib++;
            }
          };
          ws.data.pump();
        }
        if (ws.data.path === "/cookie") {
          const h = ws.data.headers;
          ws.send(JSON.stringify({ cookie: h.cookie, origin: h.origin, forwardedHost: h["x-forwarded-host"], host: h.host }));
        }
      },
      message(ws: ServerWebSocket<SocketInfo>, message) {
        if (typeof message === "string" && message.startsWith("close:")) {
          const [, code, reason] = message.split(":");
          ws.close(Number(code), reason);
          return;
        }
        ws.send(message);
      },
      drain(ws: ServerWebSocket<SocketInfo>) {
        ws.data.pump?.();
      },
      close(_ws, code, reason) {
        closes.push({ code, reason });
      },
    },
  });
  return { port: server.port!, closes, flooded, stop: () => server.stop(true) };
}
