import { type EntryBindings, type EntryRuntime, type ServerHandle, settlesWithin } from "../../runtime/entry-runtime.ts";
import { WebSocketFrameSocket } from "../../mux/web-socket-frame-socket.ts";
import type { Logger } from "../../log.ts";
import type { DenoGlobal, DenoHttpServer, DenoServeInfo } from "./deno.d.ts";

const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;

const noop = () => {};
/** Deno.serve has no idle timeout to lift (nor any connection timeout to set). */
const suspendNothing = () => noop;

/**
 * The entry routes by the Host header, but an HTTP/2 request (what browsers
 * and curl choose under TLS; h2c with prior knowledge in the clear) has none:
 * Deno puts its :authority in `request.url` instead. Its headers are
 * immutable, so such a request is copied with Host set from its URL (the
 * copy takes over the body and follows the original's abort signal).
 */
function withHost(request: Request): Request {
  if (request.headers.has("host")) return request;
  const headers = new Headers(request.headers);
  headers.set("host", new URL(request.url).host);
  return new Request(request, { headers });
}

/** First wait before listening again after the listener failed; doubles while it keeps failing. */
const RELISTEN_FIRST_MS = 100;
const RELISTEN_MAX_MS = 2000;
/** A listener that lasted this long ends a run of failures: the next wait starts short again. */
const RELISTEN_STEADY_MS = 5000;

/**
 * Keeps a Deno.serve listening. Deno ends a server's accept loop at the first
 * accept error: out of descriptors, `server.finished` rejects with
 * "Http: Error: Too many open files (os error 24)", the listener is closed,
 * and unhandled that rejection exits the process. Connections already
 * accepted keep being served. Here the failure is logged and the port is
 * listened on again (connections are refused meanwhile), with a growing wait
 * while listening keeps failing; once descriptors are free it serves again.
 */
function superviseListener(listen: () => DenoHttpServer, log: Logger, answering: () => number): ServerHandle {
  let current = listen();
  const port = current.addr.port;
  let stopped = false;
  let wait = RELISTEN_FIRST_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch = (server: DenoHttpServer, since: number) => {
    server.finished.catch((err: Error) => {
      if (stopped) return;
      if (Date.now() - since >= RELISTEN_STEADY_MS) wait = RELISTEN_FIRST_MS;
      log.error("listener failed; listening again", { port, error: err.message, retryMs: wait });
      retry();
    });
  };
  const retry = () => {
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      try {
        current = listen();
      } catch (err) {
        wait = Math.min(wait * 2, RELISTEN_MAX_MS);
        log.warn("cannot listen yet", { port, error: (err as Error).message, retryMs: wait });
        retry();
        return;
      }
      wait = Math.min(wait * 2, RELISTEN_MAX_MS);
      log.info("listening again", { port });
      watch(current, Date.now());
    }, wait);
  };
  watch(current, Date.now());
  return {
    port,
    async stop(graceMs) {
      stopped = true;
      clearTimeout(timer);
      // shutdown() lets answers being written finish; the process exit after it closes the rest.
      return (await settlesWithin(current.shutdown(), graceMs)) ? 0 : Math.max(1, answering());
    },
  };
}

/** Deno.serve with the uplink WebSocket wired to the entry's events. */
export const denoEntryRuntime: EntryRuntime = {
  name: "deno",
  serve({ port, hostname, fetch, log, tls }): Promise<ServerHandle> {
    /** Requests whose answers are not yet sent (for the count of answers a drain cut). */
    let answering = 0;
    const answered = () => answering--;
    const handler = (request: Request, info: DenoServeInfo): Response | Promise<Response> => {
      answering++;
      info.completed.then(answered, answered);
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
        suspendIdleTimeout: suspendNothing,
      };
      // Upgrades above use the original request: Deno upgrades only the one it received.
      return fetch(withHost(request), env);
    };
    let listenPort = port;
    const handle = superviseListener(() => {
      // Each listen (the first and any after a failure) serves TLS alike.
      const server = Deno.serve({ port: listenPort, hostname, onListen() {}, ...(tls ? { cert: tls.cert, key: tls.key } : {}) }, handler);
      listenPort = server.addr.port; // with port 0, listen again on the port first given
      return server;
    }, log, () => answering);
    return Promise.resolve(handle);
  },
};
