import { TCP_CONNECT_PATH, TcpSignal, VISITOR_KEY_HEADER } from "../protocol/constants.ts";
import type { SocketPipe } from "../mux/socket-pipe.ts";
import type { UplinkWebSocket } from "../runtime/client-runtime.ts";
import type { TcpConnection } from "../runtime/tcp.ts";

/** Bytes a visitor agent lets its WebSocket buffer before it stops reading the local connection. */
const WEBSOCKET_HIGH_WATER = 1024 * 1024;
/** How often a paused agent looks whether its WebSocket drained (WebSockets have no drain event). */
const DRAIN_POLL_MS = 5;

/** Where a visitor agent opens each connection's WebSocket: ws(s)://entry/_tunnel/tcp/<session>. */
export function tcpConnectUrl(server: URL, session: string): string {
  const url = new URL(`${TCP_CONNECT_PATH}${session}`, server);
  url.protocol = server.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** The headers of a visitor agent's WebSocket: the visitor key, when it has one. */
export function visitorHeaders(key: string | undefined): Record<string, string> {
  return key ? { [VISITOR_KEY_HEADER]: key } : {};
}

/** What a refused WebSocket's status means, for the agent's message. */
export function connectRefusal(status: number, session: string): string {
  switch (status) {
    case 403:
      return `the entry refused: a wrong or missing visitor key (TUNNEL_VISITOR_KEY from the tunnel's owner), or the tunnel's IP rules`;
    case 404:
      return `session "${session}" is not a TCP or TLS tunnel`;
    case 429:
      return `over the session's connection rate: try again in a moment`;
    case 502:
      return `no tunnel client is connected for session "${session}" right now`;
    case 503:
      return `the entry is shutting down or the session has too many connections`;
    default:
      return `the entry answered ${status}`;
  }
}

/**
 * Carries one local TCP connection over a WebSocket to the entry (see
 * `TcpSignal`): bytes both ways, half-closes as `end`, the entry's `pause`
 * and `resume` obeyed, and the WebSocket's own buffer bounded by pausing
 * the local connection. Resolves once both are over; `error` says why the
 * WebSocket failed (before it opened: the status).
 */
export function carryOverWebSocket(connection: TcpConnection, ws: UplinkWebSocket): Promise<{ error?: string }> {
  return new Promise((resolve) => {
    ws.binaryType = "arraybuffer";
    let open = false;
    let sentEnd = false;
    let gotEnd = false;
    let remotePaused = false;
    let localPaused = false;
    let finished = false;
    let failure = "";
    let waiting: ReturnType<typeof setInterval> | undefined;
    const early: Uint8Array[] = [];
    const finish = (error?: string) => {
      if (finished) return;
      finished = true;
      clearInterval(waiting);
      resolve(error ? { error } : {});
    };
    const bothEnded = () => {
      if (sentEnd && gotEnd) ws.close(1000, "done");
    };
    const pausedNow = () => {
      if (remotePaused || ws.bufferedAmount > WEBSOCKET_HIGH_WATER) {
        if (!localPaused) connection.pause();
        localPaused = true;
        waiting ??= setInterval(() => {
          if (remotePaused || ws.bufferedAmount > WEBSOCKET_HIGH_WATER) return;
          clearInterval(waiting);
          waiting = undefined;
          localPaused = false;
          connection.resume();
        }, DRAIN_POLL_MS);
      }
    };
    const send = (data: Uint8Array | string) => {
      try {
        ws.send(data as Uint8Array<ArrayBuffer>);
      } catch {
        // closed: onclose follows
      }
    };
    const pipe: SocketPipe = {
      data(bytes) {
        if (!open) return void early.push(bytes.slice());
        send(bytes.slice());
        pausedNow();
      },
      ended() {
        sentEnd = true;
        if (open) {
          send(TcpSignal.End);
          bothEnded();
        }
      },
      drained() {
        send(TcpSignal.Resume);
      },
      closed(error) {
        if (error || !(sentEnd && gotEnd)) ws.close(error ? 4000 : 1000, error ? "reset" : "closed");
        if (!open) finish();
      },
    };
    connection.pause();
    connection.attach(pipe);
    ws.onopen = () => {
      open = true;
      for (const bytes of early.splice(0)) send(bytes);
      if (sentEnd) send(TcpSignal.End);
      connection.resume();
      pausedNow();
    };
    ws.onmessage = (event) => {
      if (typeof event.data === "string") {
        if (event.data === TcpSignal.End) {
          gotEnd = true;
          connection.end();
          bothEnded();
        } else if (event.data === TcpSignal.Pause) {
          remotePaused = true;
          pausedNow();
        } else if (event.data === TcpSignal.Resume) {
          remotePaused = false;
        }
        return;
      }
      if (!connection.write(new Uint8Array(event.data as ArrayBuffer))) send(TcpSignal.Pause);
    };
    ws.onerror = (event) => {
      failure = event.message ?? "";
    };
    ws.onclose = (event) => {
      if (event.code === 1000) connection.end();
      else connection.reset();
      const status = Number(/Expected 101 status code: (\d{3})/.exec(failure || event.reason)?.[1]);
      finish(open ? (event.code === 1000 ? undefined : `closed (${event.code}${event.reason ? ` ${event.reason}` : ""})`) : status ? `status ${status}` : failure || `closed (${event.code})`);
    };
  });
}
