import {
  type EntryBindings,
  type EntryRuntime,
  type ServerHandle,
  settlesWithin,
  type UplinkSocketEvents,
  type VisitorSocketEvents,
} from "../../runtime/entry-runtime.ts";
import { MAX_WEBSOCKET_MESSAGE_BYTES } from "../../protocol/websocket-records.ts";
import type { BunGlobal, BunServerWebSocket } from "./bun.d.ts";
import { BunServerFrameSocket } from "./server-frame-socket.ts";

/** What each server WebSocket carries: an uplink, or a visitor's socket passed through. */
type SocketData =
  | { kind: "uplink"; events: UplinkSocketEvents; socket?: BunServerFrameSocket }
  | { kind: "visitor"; events: VisitorSocketEvents; socket?: BunServerFrameSocket };

const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;

const noop = () => {};

/** Bun.serve with the uplink WebSocket wired to the entry's events. */
export const bunEntryRuntime: EntryRuntime = {
  name: "bun",
  serve({ port, hostname, fetch, idleTimeoutS, tls }): Promise<ServerHandle> {
    const server = Bun.serve<SocketData>({
      port,
      hostname,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
      // Closes keep-alive connections idle this long (Bun checks every ~4 s). A request
      // still waiting for its head is "idle" too, so proxied requests lift it while their
      // answer is pending or streaming (suspendIdleTimeout). Connections that never send
      // a whole request head are closed by Bun itself after about 10 s, whatever this is.
      idleTimeout: idleTimeoutS,
      // Bun answers 413 past 128 MiB by default; MAX_BODY_BYTES is the entry's own limit.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch(request, server) {
        const env: EntryBindings = {
          remoteAddress: server.requestIP(request)?.address ?? "",
          upgradeUplink(events) {
            const ok = server.upgrade<SocketData>(request, { data: { kind: "uplink", events } });
            // Bun answers the upgrade itself; the returned Response is ignored.
            return ok ? new Response(null) : undefined;
          },
          upgradeVisitor({ protocol, headers, events }) {
            const answer = new Headers(headers);
            if (protocol) answer.set("sec-websocket-protocol", protocol);
            const ok = server.upgrade<SocketData>(request, { data: { kind: "visitor", events }, headers: answer });
            return ok ? new Response(null) : undefined;
          },
          suspendIdleTimeout() {
            if (idleTimeoutS === 0) return noop;
            server.timeout(request, 0);
            let resumed = false;
            return () => {
              if (resumed) return;
              resumed = true;
              // Set before the response completes, it is also the keep-alive idle timeout
              // after it: a request's timeout outlives the request in Bun.
              server.timeout(request, idleTimeoutS);
            };
          },
        };
        return fetch(request, env);
      },
      websocket: {
        // Visitors' messages may be large; uplink messages are held to 256 KiB by the mux.
        maxPayloadLength: MAX_WEBSOCKET_MESSAGE_BYTES,
        // Far above the 1 MiB drain mark plus one largest message: Bun drops messages past it.
        backpressureLimit: 2 * MAX_WEBSOCKET_MESSAGE_BYTES,
        closeOnBackpressureLimit: true,
        idleTimeout: 120,
        perMessageDeflate: false,
        open(ws) {
          const socket = new BunServerFrameSocket(ws as BunServerWebSocket<unknown>);
          ws.data.socket = socket;
          ws.data.events.onOpen(socket);
        },
        message(ws, message) {
          const data = ws.data;
          if (data.kind === "visitor") data.events.onMessage(message);
          else if (typeof message === "string") data.events.onText();
          else data.events.onMessage(message);
        },
        drain(ws) {
          ws.data.socket?.wake();
        },
        close(ws, code, reason) {
          ws.data.socket?.wake(true);
          ws.data.events.onClose(code, reason);
        },
      },
    });
    return Promise.resolve({
      port: server.port,
      async stop(graceMs) {
        // stop(true) at once would reset connections whose answers Bun still holds in its
        // buffers: a download whose last bytes had left the tunnel was cut short.
        if (await settlesWithin(server.stop(false), graceMs)) return 0;
        // Still writing: Bun counts the requests and WebSockets, not a connection left to flush.
        const cut = Math.max(1, server.pendingRequests + server.pendingWebSockets);
        await server.stop(true);
        return cut;
      },
    });
  },
};
