/**
 * A WebSocket target for tests, in the test process: `/echo` echoes every
 * message (text stays text) and closes with the code and reason it is sent
 * as `close:CODE:REASON`; it picks the first offered subprotocol in
 * `chat`, `superchat`; `/refuse` answers 403 with a body; `/cookie` echoes
 * the Cookie, Origin and X-Forwarded-Host it got as its first message;
 * `/page` serves an HTML page that opens `/echo` over WebSocket (for browsers).
 */
import type { Server, ServerWebSocket } from "bun";

interface SocketInfo {
  path: string;
  headers: Record<string, string>;
}

export interface WebSocketTarget {
  port: number;
  /** Close codes and reasons the target's sockets saw, by path. */
  closes: { code: number; reason: string }[];
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
        data: { path: url.pathname, headers: Object.fromEntries(request.headers) },
        headers: chosen ? { "sec-websocket-protocol": chosen } : {},
      });
      return ok ? undefined : new Response("expected a WebSocket", { status: 426 });
    },
    websocket: {
      maxPayloadLength: 64 * 1024 * 1024,
      backpressureLimit: 256 * 1024 * 1024,
      open(ws: ServerWebSocket<SocketInfo>) {
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
      close(_ws, code, reason) {
        closes.push({ code, reason });
      },
    },
  });
  return { port: server.port!, closes, stop: () => server.stop(true) };
}
