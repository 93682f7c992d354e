import type { EntryBindings, EntryRuntime, ServerHandle } from "../../entry/entry-runtime.ts";
import { WebSocketFrameSocket } from "../../mux/web-socket-frame-socket.ts";
import type { DenoGlobal } from "./deno.d.ts";

const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

/** Deno.serve with the uplink WebSocket wired to the entry's events. */
export const denoEntryRuntime: EntryRuntime = {
  name: "deno",
  serve({ port, hostname, fetch }): Promise<ServerHandle> {
    const server = Deno.serve({ port, hostname, onListen() {} }, (request, info) => {
      const env: EntryBindings = {
        remoteAddress: info.remoteAddr.hostname ?? "",
        upgradeUplink(events) {
          if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return undefined;
          const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 120 });
          socket.binaryType = "arraybuffer";
          socket.onopen = () => events.onOpen(new WebSocketFrameSocket(socket));
          socket.onmessage = (event: MessageEvent) => {
            if (typeof event.data === "string") events.onText();
            else events.onMessage(new Uint8Array(event.data as ArrayBuffer));
          };
          socket.onclose = (event: CloseEvent) => events.onClose(event.code, event.reason);
          return response;
        },
        upgradeVisitor({ protocol, headers, events }) {
          if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return undefined;
          let upgraded;
          try {
            upgraded = Deno.upgradeWebSocket(request, { protocol, idleTimeout: 120 });
          } catch {
            return undefined; // not a valid WebSocket handshake
          }
          const { socket, response } = upgraded;
          for (const [name, value] of headers) {
            try {
              response.headers.append(name, value);
            } catch {
              break; // immutable headers: cookies from the target's 101 are not passed on
            }
          }
          socket.binaryType = "arraybuffer";
          socket.onopen = () => events.onOpen(new WebSocketFrameSocket(socket, { highWater: 1024 * 1024, lowWater: 256 * 1024 }));
          socket.onmessage = (event: MessageEvent) => {
            events.onMessage(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
          };
          socket.onclose = (event: CloseEvent) => events.onClose(event.code, event.reason);
          return response;
        },
      };
      return fetch(request, env);
    });
    const handle: ServerHandle = {
      port: server.addr.port,
      stop: () => server.shutdown(),
    };
    return Promise.resolve(handle);
  },
};
