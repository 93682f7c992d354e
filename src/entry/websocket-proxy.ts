import { ResetCode } from "../protocol/constants.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { scopeCookies } from "./cookie-scope.ts";
import { StreamWebSocket } from "./stream-web-socket.ts";
import { forwardedFor } from "./visitor-address.ts";
import { WebSocketBridge } from "./websocket-bridge.ts";
import { errorResponse } from "./error-response.ts";
import { admit, awaitResponseHead, failureResponse, headersForTarget, type ProxyDeps, refuseHead, requestHead, type Visitor, visitorResponse } from "./proxy.ts";

/** Whether a request asks for a WebSocket (RFC 6455 §4.1). */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/**
 * Carries a visitor's WebSocket to the session's client: a stream whose head
 * is flagged `websocket`; the client opens a WebSocket to the target and
 * answers 101 (with the chosen subprotocol) or the target's refusal. Only
 * after a 101 is the visitor's upgrade completed.
 */
export async function proxyWebSocket(request: Request, session: string, env: EntryBindings, deps: ProxyDeps): Promise<Response> {
  const key = request.headers.get("sec-websocket-key") ?? "";
  if (request.headers.get("sec-websocket-version") !== "13" || !/^[A-Za-z0-9+/]{22}==$/.test(key)) {
    return errorResponse(400, "Bad request: a WebSocket handshake needs Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key");
  }
  const head = { ...requestHead(request, forwardedFor(request, env), deps.config.publicScheme, false), websocket: true };
  const refusal = refuseHead(head);
  if (refusal) return refusal;
  const visitor: Visitor = { address: env.remoteAddress };
  const uplink = await admit(request, session, deps, visitor);
  if (uplink instanceof Response) return uplink;
  const policy = visitor.policy;
  if (policy) head.headers = headersForTarget(head.headers, policy, visitor);
  if (policy?.webhook) {
    // An upgrade has no body: its signature, if any, is of the empty body.
    const verification = policy.webhook.begin(request.headers);
    if (typeof verification === "string" || !verification.verified()) {
      deps.refused?.(session, "webhook");
      return errorResponse(401, `Unauthorized: session "${session}" takes only signed webhooks`);
    }
  }
  let stream: MuxStream;
  try {
    stream = uplink.mux!.open(head, false);
  } catch (err) {
    return failureResponse(err, session);
  }
  // The target's answer may take up to REQUEST_TIMEOUT_MS; the WebSocket, once open, has its own idle rule.
  const resumeIdle = env.suspendIdleTimeout();
  const answer = await awaitResponseHead(stream, request, session, deps);
  if (answer instanceof Response) {
    resumeIdle();
    return answer;
  }
  if (answer.status !== 101) {
    // The target refused the WebSocket: the visitor gets its answer as is.
    stream.sendEnd();
    try {
      return await visitorResponse(stream, request.method, answer, session, deps.config.domain, resumeIdle);
    } catch (err) {
      resumeIdle();
      throw err;
    }
  }
  resumeIdle();
  const bridge = new WebSocketBridge(session, new StreamWebSocket(stream), deps.state.webSockets);
  const response = env.upgradeVisitor({
    protocol: answer.headers.find(([name]) => name.toLowerCase() === "sec-websocket-protocol")?.[1],
    headers: scopeCookies(answer.headers.filter(([name]) => name.toLowerCase() === "set-cookie"), `${session}.${deps.config.domain}`),
    events: bridge,
  });
  if (!response) {
    stream.reset(ResetCode.Cancel, "The visitor's WebSocket upgrade failed");
    return errorResponse(400, "Bad request: not a valid WebSocket handshake");
  }
  return response;
}
