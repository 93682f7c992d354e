import type { EntryBindings, EntryRuntime, ServerHandle, UplinkSocketEvents } from "../../entry/entry-runtime.ts";
import { MAX_MESSAGE_BYTES } from "../../protocol/constants.ts";
import type { BunGlobal, BunServerWebSocket } from "./bun.d.ts";
import { BunServerFrameSocket } from "./server-frame-socket.ts";

interface SocketData {
  events: UplinkSocketEvents;
  socket?: BunServerFrameSocket;
}

const Bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;

/** Bun.serve with the uplink WebSocket wired to the entry's events. */
export const bunEntryRuntime: EntryRuntime = {
  name: "bun",
  serve({ port, hostname, fetch }): Promise<ServerHandle> {
    const server = Bun.serve<SocketData>({
      port,
      hostname,
      // Long-lived streams (SSE, slow downloads) must not be cut by Bun's 10 s default.
      idleTimeout: 0,
      // Bun answers 413 past 128 MiB by default; MAX_BODY_BYTES is the entry's own limit.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
      fetch(request, server) {
        const env: EntryBindings = {
          remoteAddress: server.requestIP(request)?.address ?? "",
          upgradeUplink(events) {
            const ok = server.upgrade<SocketData>(request, { data: { events } });
            // Bun answers the upgrade itself; the returned Response is ignored.
            return ok ? new Response(null) : undefined;
          },
        };
        return fetch(request, env);
      },
      websocket: {
        maxPayloadLength: MAX_MESSAGE_BYTES,
        // Far above the writer's 1 MiB drain mark: Bun drops messages past it.
        backpressureLimit: 64 * 1024 * 1024,
        closeOnBackpressureLimit: true,
        idleTimeout: 120,
        perMessageDeflate: false,
        open(ws) {
          ws.data.socket = new BunServerFrameSocket(ws as BunServerWebSocket<unknown>);
          ws.data.events.onOpen(ws.data.socket);
        },
        message(ws, message) {
          if (typeof message === "string") ws.data.events.onText();
          else ws.data.events.onMessage(message);
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
      stop: () => server.stop(true),
    });
  },
};
