import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import { openTargetWebSocket } from "../http/target-web-socket.ts";
import { endToEndHeaders, isGetOrHead } from "../protocol/end-to-end-headers.ts";
import { answerHeaders } from "../entry/answer-headers.ts";
import { type AnswerSource, relayAnswer } from "../entry/answer-relay.ts";
import type { HeaderList } from "../protocol/head.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { errorResponse } from "../entry/error-response.ts";
import { originForm } from "../http/url-parts.ts";
import { forwardedFor } from "../entry/visitor-address.ts";
import { isWebSocketUpgrade } from "../entry/websocket-proxy.ts";
import { WebSocketBridge } from "../entry/websocket-bridge.ts";
import type { VisitorWebSockets } from "../entry/visitor-web-sockets.ts";
import { PEER_FOR, PEER_FROM, PEER_HEADERS, PEER_HOST, PEER_NOT_HELD, PEER_SIGNATURE, PEER_TARGET } from "../entry/peer-headers.ts";
import type { PeerSigner } from "./peer-signature.ts";
import type { Peer } from "../entry/entry-cluster.ts";

/** What forwarding to another entry needs. */
export interface PeerForwardDeps {
  /** This entry's instance id (the hop marker it sets). */
  self: string;
  signer: PeerSigner;
  /** Sends a request to another entry: no redirects, no decompression (the client's target fetch). */
  fetchPeer: (request: TargetRequest) => Promise<TargetResponse>;
  /** How long the other entry may take to answer the head (its own REQUEST_TIMEOUT_MS plus a margin). */
  headTimeoutMs: number;
  /** The entry's visitor WebSockets: forwarded ones count toward its budget and close with 1001 on drain like its own. */
  webSockets: VisitorWebSockets;
}

/** The request's headers for the entry it goes to: end to end, the visitor's Host, path and address carried, and signed. */
function peerHeaders(request: Request, host: string, env: EntryBindings, deps: PeerForwardDeps): HeaderList {
  const headers = endToEndHeaders(request.headers, ["host", ...PEER_HEADERS]);
  const signed = { from: deps.self, method: request.method, host, target: originForm(request.url), forwardedFor: forwardedFor(request, env) };
  headers.push(
    [PEER_FROM, signed.from],
    [PEER_SIGNATURE, deps.signer.sign(signed)],
    [PEER_HOST, host],
    [PEER_TARGET, signed.target],
    [PEER_FOR, signed.forwardedFor],
  );
  return headers;
}

/** Runs `onEnd` once the body has been read to its end (the request is then wholly sent). */
function noticeEnd(body: ReadableStream<Uint8Array>, onEnd: () => void): ReadableStream<Uint8Array> {
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ flush: onEnd }));
}

/**
 * Forwards a visitor's request to the entry that holds its session, streamed
 * both ways: the body as it arrives, the answer as it comes. WebSocket
 * upgrades are carried too. "unreachable": the entry could not be reached
 * (the request was not taken); "not-held": it answered that it holds no
 * uplink for the session (its directory entry was stale).
 */
export async function forwardToPeer(
  request: Request,
  host: string,
  session: string,
  peer: Peer,
  env: EntryBindings,
  deps: PeerForwardDeps,
): Promise<Response | "unreachable" | "not-held"> {
  const headers = peerHeaders(request, host, env, deps);
  if (isWebSocketUpgrade(request)) return await forwardWebSocket(request, session, peer, headers, env, deps);
  const abort = new AbortController();
  const onVisitorGone = () => abort.abort();
  request.signal.addEventListener("abort", onVisitorGone, { once: true });
  // The other entry's head deadline runs from the end of the upload, and so does this one.
  let headTimer: ReturnType<typeof setTimeout> | undefined;
  let answered = false; // an upload that ends after the answer came starts no timer
  const startHeadTimer = () => {
    if (!answered) headTimer ??= setTimeout(() => abort.abort(), deps.headTimeoutMs);
  };
  const resumeIdle = env.suspendIdleTimeout();
  const sendsBody = request.body !== null && !isGetOrHead(request.method);
  if (!sendsBody) startHeadTimer();
  let answer: TargetResponse;
  try {
    answer = await deps.fetchPeer({
      url: `${peer.url}${originForm(request.url)}`,
      method: request.method,
      headers: sendsBody ? headers : headers.filter(([name]) => name !== "content-length"),
      body: sendsBody ? noticeEnd(request.body!, startHeadTimer) : null,
      signal: abort.signal,
    });
  } catch (err) {
    resumeIdle();
    request.signal.removeEventListener("abort", onVisitorGone);
    if (abort.signal.aborted && !request.signal.aborted) {
      return errorResponse(504, `Gateway timeout: the entry holding session "${session}" sent no answer in time`);
    }
    return (err as Error).name === "AbortError" ? errorResponse(499, "Client closed request") : "unreachable";
  } finally {
    answered = true;
    clearTimeout(headTimer);
  }
  const done = () => {
    resumeIdle();
    request.signal.removeEventListener("abort", onVisitorGone);
  };
  if (answer.status === 502 && answer.headers.some(([name]) => name === PEER_NOT_HELD)) {
    answer.body?.cancel().catch(() => {});
    done();
    return "not-held";
  }
  const { body } = answer;
  const source: AnswerSource = {
    status: answer.status,
    // The holding entry already scoped the cookies; the rest is checked again here (it may relay a target's Fly-* headers).
    headers: new Headers(answerHeaders(answer.headers)),
    noBody: body === null,
    readAll: () => answer.bytes() as Promise<Uint8Array<ArrayBuffer>>,
    stream: (ended) => relayedBody(body!, ended, abort),
    discard: () => body?.cancel().catch(() => {}),
  };
  const cutShort = () => errorResponse(502, `Bad gateway: the entry holding session "${session}" cut its answer short`);
  return await relayAnswer(request.method, source, { who: `the entry holding session "${session}"`, failed: cutShort }, done);
}

/** Another entry's answer body, as the visitor reads it: `done` once it ends, fails or is cancelled (which aborts the request). */
function relayedBody(body: ReadableStream<Uint8Array>, done: () => void, abort: AbortController): ReadableStream<Uint8Array> {
  // Streamed: the idle timeout stays lifted until the body ends, however long it is silent (SSE).
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          done();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        done();
        controller.error(err);
      }
    },
    cancel(reason) {
      done();
      abort.abort();
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * A visitor's WebSocket for a session held elsewhere: the handshake goes to
 * that entry (our own RFC 6455 client, which passes on a refusal's status
 * and can pause reading), and only after its 101 is the visitor's upgrade
 * completed; then messages flow both ways.
 */
async function forwardWebSocket(
  request: Request,
  session: string,
  peer: Peer,
  headers: HeaderList,
  env: EntryBindings,
  deps: PeerForwardDeps,
): Promise<Response | "unreachable" | "not-held"> {
  const url = new URL(`${peer.url}${originForm(request.url)}`);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), deps.headTimeoutMs);
  const resumeIdle = env.suspendIdleTimeout();
  let opened;
  try {
    opened = await openTargetWebSocket(url, headers, abort.signal);
  } catch {
    return abort.signal.aborted
      ? errorResponse(504, `Gateway timeout: the entry holding session "${session}" sent no answer in time`)
      : "unreachable";
  } finally {
    clearTimeout(timer);
    resumeIdle();
  }
  if (!opened.accepted) {
    if (opened.status === 502 && opened.headers.some(([name]) => name === PEER_NOT_HELD)) return "not-held";
    return new Response(opened.body.byteLength > 0 ? opened.body as Uint8Array<ArrayBuffer> : null, {
      status: opened.status,
      headers: new Headers(answerHeaders(opened.headers)),
    });
  }
  const bridge = new WebSocketBridge(session, opened.socket, deps.webSockets);
  const response = env.upgradeVisitor({
    protocol: opened.headers.find(([name]) => name === "sec-websocket-protocol")?.[1],
    // The holding entry already scoped the target's cookies to the session's host.
    headers: opened.headers.filter(([name]) => name === "set-cookie"),
    events: bridge,
  });
  if (!response) {
    opened.socket.destroy();
    return errorResponse(400, "Bad request: not a valid WebSocket handshake");
  }
  return response;
}
