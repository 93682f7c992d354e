import { CloseCode, CONNECT_PATH, FrameKind, GoAwayCode, ResetCode, UPLINK_SESSION_HEADER } from "../protocol/constants.ts";
import { decodeFrameAt, encodeFrame } from "../protocol/frame.ts";
import { decodeWelcome, encodeJson, type Welcome } from "../protocol/head.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { Mux } from "../mux/mux.ts";
import { WebSocketFrameSocket } from "../mux/web-socket-frame-socket.ts";
import type { ClientConfig } from "../config/config.ts";
import type { UplinkWebSocket } from "../runtime/client-runtime.ts";
import { forwardWebSocket } from "./websocket-forwarder.ts";
import { forward, type ForwarderDeps } from "./forwarder.ts";
import { forwardTcp, type TcpForwarderDeps } from "./tcp-forwarder.ts";

/** How an uplink ended. */
export interface UplinkEnd {
  code: number;
  reason: string;
  /** Whether the entry welcomed it (it served for a while). */
  welcomed: boolean;
  /**
   * The entry sent GoAway: it takes no new streams here, but this uplink
   * stays open until the streams it carries finish. Time to open another.
   */
  goAway?: boolean;
}

/**
 * What an entry's refusal of the upgrade means, from the status the
 * runtime's WebSocket reports ("Expected 101 status code: 401"): a token
 * or session name refused (permanent), or the session at its uplink limit.
 */
export function upgradeRefusal(failure: string, session: string): { code: number; reason: string } | undefined {
  const status = failure.match(/Expected 101 status code: (\d{3})/)?.[1];
  if (status === "401") return { code: CloseCode.Unauthorized, reason: `Invalid token for session "${session}" (the entry answered 401)` };
  if (status === "400") return { code: CloseCode.Unauthorized, reason: `Invalid session name "${session}" (the entry answered 400)` };
  if (status === "429") {
    return { code: CloseCode.TooManyUplinks, reason: `Too many uplinks: session "${session}" is at this entry's MAX_UPLINKS_PER_SESSION (429)` };
  }
  return undefined;
}

/** The uplink endpoint for an entry URL: http→ws, https→wss. */
export function connectUrl(server: URL): string {
  const url = new URL(CONNECT_PATH, server);
  url.protocol = server.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * Runs one uplink to the entry at `server` until it closes: WebSocket, Hello,
 * Welcome, then a {@linkcode Mux} whose streams are forwarded to the target.
 */
export function runUplink(
  config: ClientConfig,
  server: URL,
  deps: ForwarderDeps & {
    openWebSocket: (url: string, headers: Record<string, string>) => UplinkWebSocket;
    /** A TCP or TLS tunnel's forwarding (its streams are connections, not requests). */
    tcp?: TcpForwarderDeps;
  },
  onWelcome: (welcome: Welcome) => void,
  /** Aborted when the client stops: the uplink closes normally (1000), after the entry confirms or 500 ms. */
  stop?: AbortSignal,
): Promise<UplinkEnd> {
  return new Promise((resolve) => {
    // The token goes in a header of the upgrade (never the URL): an entry with a secret checks it before any WebSocket.
    const ws = deps.openWebSocket(connectUrl(server), { [UPLINK_SESSION_HEADER]: config.session, authorization: `Bearer ${config.token}` });
    ws.binaryType = "arraybuffer";
    let mux: Mux | undefined;
    let welcomed = false;
    let ended = false;
    const socket = new WebSocketFrameSocket(ws);
    const { connectTimeoutMs, pingEveryMs, silenceMs } = config.uplinkTimings;
    const connectTimer = setTimeout(() => finish(1006, "Connect timeout"), connectTimeoutMs);
    let pinger: ReturnType<typeof setInterval> | undefined;

    const finish = (code: number, reason: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(connectTimer);
      clearInterval(pinger);
      mux?.close(new Error(`uplink closed (${code}${reason ? ` ${reason}` : ""})`));
      socket.close(code === 1006 ? 1000 : code, reason);
      resolve({ code, reason, welcomed });
    };

    // On GoAway: report at once (so a new uplink is opened), finish the
    // streams in flight, then close.
    const goAway = (code: number, message: string) => {
      // A protocol-error GoAway is followed by the close itself.
      if (code === GoAwayCode.ProtocolError) return;
      resolve({ code: 1001, reason: `GoAway ${code}: ${message}`, welcomed, goAway: true });
      const waitIdle = setInterval(() => {
        // Streams done and their last frames handed to the socket: closing aborts the writer's queue.
        if (ended || (mux!.activeStreams === 0 && mux!.writer.idle)) {
          clearInterval(waitIdle);
          finish(1000, "Entry asked to go away");
        }
      }, 50);
    };

    ws.onopen = () => {
      ws.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({
        session: config.session,
        token: config.token,
        window: config.windowBytes,
        ...(config.access ? { access: config.access as Record<string, unknown> } : {}),
        target: config.targetTag,
        ...(config.replica ? { replica: true } : {}),
        ...(config.tunnel ? { tunnel: config.tunnel } : {}),
      })));
    };
    ws.onmessage = (event) => {
      if (typeof event.data === "string") {
        finish(CloseCode.BadFrame, "Text message on an uplink");
        return;
      }
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      if (mux) {
        mux.receive(bytes);
        return;
      }
      try {
        const frame = decodeFrameAt(bytes, 0);
        if (frame.kind !== FrameKind.Welcome) throw new ProtocolError(`Expected welcome, got frame kind ${frame.kind}`);
        const welcome = decodeWelcome(frame.payload);
        clearTimeout(connectTimer);
        welcomed = true;
        mux = new Mux({
          role: "client",
          socket,
          localWindow: config.windowBytes,
          peerWindow: welcome.window,
          onStream: (stream, head) => {
            // A TCP tunnel takes connections only, an HTTP tunnel requests only: the entry never mixes them, a peer that does gets a reset.
            if (Boolean(head.tcp) !== Boolean(deps.tcp)) return stream.reset(ResetCode.ProtocolError, head.tcp ? "Not a TCP tunnel" : "A TCP tunnel takes connections only");
            const forwarding = deps.tcp && head.tcp
              ? forwardTcp(stream, head, deps.tcp)
              : head.websocket
              ? forwardWebSocket(stream, head, deps)
              : forward(stream, head, deps);
            forwarding.catch(() => {});
          },
          onClose: (err) => {
            if (err instanceof ProtocolError) finish(CloseCode.BadFrame, `Protocol error: ${err.message}`);
          },
          onGoAway: goAway,
        });
        pinger = setInterval(() => {
          if (Date.now() - mux!.lastSeen > silenceMs) {
            finish(1006, `No answer from the entry for ${silenceMs / 1000} s`);
          } else if (mux!.writer.stalledMs > silenceMs) {
            finish(1006, `The entry read nothing for ${silenceMs / 1000} s`);
          } else {
            mux!.ping();
          }
        }, pingEveryMs);
        onWelcome(welcome);
        // Frames batched after the Welcome in the same message.
        if (frame.end < bytes.byteLength) mux.receive(bytes.subarray(frame.end));
      } catch (err) {
        finish(CloseCode.BadFrame, (err as Error).message);
      }
    };
    // A failed connection closes with 1006 and no reason; the error before it says why.
    let failure = "";
    ws.onerror = (event) => {
      failure = event.message ?? "";
    };
    ws.onclose = (event) => {
      const refused = welcomed ? undefined : upgradeRefusal(failure || event.reason, config.session);
      if (refused) finish(refused.code, refused.reason);
      else finish(event.code, event.reason || failure);
    };
    stop?.addEventListener("abort", () => {
      if (ended) return;
      const closed = ws.onclose;
      const settle = setTimeout(() => finish(1000, "Client stopped"), config.uplinkTimings.closeWaitMs);
      // Resolved once the entry answers the close: it then logs a normal disconnect.
      ws.onclose = (event) => {
        clearTimeout(settle);
        closed?.(event);
      };
      mux?.close(new Error("Client stopped"));
      ws.close(1000, "Client stopped");
    }, { once: true });
  });
}
