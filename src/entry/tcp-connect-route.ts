import type { Hono } from "hono";
import { SESSION_NAME_PATTERN, TCP_CONNECT_PATH, VISITOR_KEY_HEADER } from "../protocol/constants.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { errorResponse } from "./error-response.ts";
import type { TcpFront } from "./tcp-front.ts";
import { WebSocketConnection } from "./web-socket-connection.ts";

/** The status a refused `tunnel2 connect` gets, from why it was refused. */
function statusOf(why: string): number {
  if (why.includes("visitor key")) return 403;
  if (why.includes("IP rules")) return 403;
  if (why.includes("rate")) return 429;
  if (why.includes("shutting down") || why.includes("too many")) return 503;
  if (why.includes("no tunnel client") || why.includes("no uplink")) return 502;
  return 404;
}

/**
 * `GET /_tunnel/tcp/<session>` with a WebSocket upgrade: one TCP connection
 * to a TCP or TLS tunnel, for `tunnel2 connect` where only HTTP reaches the
 * entry (a private tunnel's only way in; its visitor key in
 * `x-tunnel2-visitor-key`). Refusals are answered before the upgrade, with
 * the reason, so the agent can say it.
 */
export function addTcpConnectRoute(app: Hono<{ Bindings: EntryBindings }>, front: TcpFront): void {
  app.get(`${TCP_CONNECT_PATH}:session`, async (c) => {
    const session = c.req.param("session");
    if (!SESSION_NAME_PATTERN.test(session)) return errorResponse(400, "Bad request: invalid session name: use 1-63 of a-z, 0-9 and -");
    const key = c.req.header(VISITOR_KEY_HEADER);
    const connection = new WebSocketConnection(c.env.remoteAddress, new URL(c.req.url).host);
    const admitted = await front.admit(session, connection, "connect", key);
    if (typeof admitted === "string") return errorResponse(statusOf(admitted), `Refused: ${admitted}`);
    // Without an upgrade: the visitor agent's check at its start, answered once the connection would have been admitted.
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(426, `Upgrade required: session "${session}" takes connections here, each over a WebSocket (tunnel2 connect ${session})`);
    }
    const response = c.env.upgradeVisitor({ protocol: undefined, headers: [], events: connection });
    if (!response) return errorResponse(400, "Bad request: not a valid WebSocket upgrade");
    connection.opened.then(() => front.connect(session, connection, "connect", key, admitted));
    return response;
  });
}
