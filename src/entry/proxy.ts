import { ResetCode } from "../protocol/constants.ts";
import { relayAnswer } from "./answer-relay.ts";
import { errorResponse } from "./error-response.ts";
import { originForm } from "../http/url-parts.ts";
import { endToEndHeaders, isGetOrHead } from "../protocol/end-to-end-headers.ts";
import { headBytes, type HeaderList, MAX_HEAD_BYTES, type RequestHead, requestHeadProblem, type ResponseHead } from "../protocol/head.ts";
import { BODY_IDLE_MESSAGE, type MuxStream } from "../mux/mux-stream.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import type { EntryConfig } from "../config/config.ts";
import type { HeadDeadlines } from "./head-deadlines.ts";
import type { RateDecision, RateLimiter } from "./rate-limits.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { Uplink } from "./uplink.ts";
import { answerHeaders } from "./answer-headers.ts";
import type { EntryBindings } from "../runtime/entry-runtime.ts";
import { forwardedFor } from "./visitor-address.ts";
import { PEER_HEADERS } from "./peer-headers.ts";
import type { VisitorWebSockets } from "./visitor-web-sockets.ts";
import type { AccessPolicy, RefusalReason } from "../access/access-policy.ts";
import { withoutSignOnCookies } from "./sign-on.ts";
import { refuseByHead, signOnGate, verifiedBody, type WebhookBuffers } from "./access-gate.ts";
import type { SignOn } from "./sign-on.ts";

/**
 * Headers the entry writes itself (X-Forwarded-*) or never passes on
 * (`Forwarded`, `X-Real-IP`, `Fly-Client-IP`: a visitor could claim any
 * address with them; the entries' own forwarding headers).
 */
const REPLACED_HEADERS = [
  "host",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "forwarded",
  "x-real-ip",
  "fly-client-ip",
  // Only the entry vouches for a signed-on visitor's address.
  "x-tunnel2-user-email",
  ...PEER_HEADERS,
];

const REPLACED_SET = new Set(REPLACED_HEADERS);

/**
 * The head sent to the client: end-to-end headers plus X-Forwarded-*
 * (`forwardedFor` is the whole X-Forwarded-For value). When no body is sent
 * (`sendsBody` false: GET, HEAD, or none), a Content-Length other than 0 is
 * left out, so the head's framing always describes exactly the bytes the
 * target will get.
 */
export function requestHead(request: Request, forwardedFor: string, scheme: string, sendsBody: boolean): RequestHead {
  let headers = endToEndHeaders(request.headers, REPLACED_HEADERS);
  // CGI-style servers (WSGI, PHP, Rack) read X_Forwarded_For as X-Forwarded-For: such spellings of what the entry writes go too.
  if (headers.some(([name]) => name.includes("_"))) {
    headers = headers.filter(([name]) => !name.includes("_") || !REPLACED_SET.has(name.toLowerCase().replace(/_/g, "-")));
  }
  if (!sendsBody) headers = headers.filter(([name, value]) => name !== "content-length" || value === "0");
  headers.push(
    ["x-forwarded-for", forwardedFor],
    ["x-forwarded-proto", scheme],
    ["x-forwarded-host", request.headers.get("host") ?? ""],
  );
  return { method: request.method, target: originForm(request.url), headers };
}

/** Methods the tunnel does not carry: CONNECT asks for a raw tunnel, TRACE and TRACK echo a request back (cross-site tracing). */
const REFUSED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** The entry's answer to a head it will not forward (405, 431 too large, 400 not carriable), or undefined. */
export function refuseHead(head: RequestHead): Response | undefined {
  if (head.method.length <= 7 && REFUSED_METHODS.has(head.method.toUpperCase())) {
    return errorResponse(405, `Method not allowed: the tunnel does not carry ${head.method.toUpperCase()} requests`);
  }
  const size = headBytes(head);
  if (size > MAX_HEAD_BYTES) {
    return errorResponse(431, `Request header fields too large: ${size} bytes of path and headers, the limit is ${MAX_HEAD_BYTES}`);
  }
  const problem = requestHeadProblem(head);
  return problem ? errorResponse(400, `Bad request: ${problem}`) : undefined;
}

/**
 * Maps a stream that ended before its head to the visitor's answer. Visitors
 * get a plain reason; details (the target's address, its error) stay in the
 * client's log.
 */
export function failureResponse(err: unknown, session: string): Response {
  if (err instanceof RangeError) {
    return errorResponse(431, "Request header fields too large for the tunnel");
  }
  if (err instanceof StreamResetError) {
    switch (err.code) {
      case ResetCode.Timeout:
        if (err.message === BODY_IDLE_MESSAGE) {
          return errorResponse(408, "Request timeout: the request body stopped arriving");
        }
        return errorResponse(504, `Gateway timeout: the tunnel client of session "${session}" sent no response in time`);
      case ResetCode.TargetUnreachable:
        return errorResponse(502, `Bad gateway: the target of session "${session}" could not be reached`);
      case ResetCode.TooLarge:
        return errorResponse(413, "Payload too large: the request body is over the limit");
      case ResetCode.TargetError:
        return errorResponse(502, `Bad gateway: the target of session "${session}" failed`);
      case ResetCode.ProtocolError:
        return errorResponse(502, `Bad gateway: session "${session}" sent an answer the tunnel cannot carry`);
      default:
        return err.message.startsWith("Uplink lost")
          ? errorResponse(502, `Bad gateway: Uplink lost: the tunnel client of session "${session}" went away mid-request`)
          : errorResponse(502, `Bad gateway: session "${session}" ended the request`);
    }
  }
  return errorResponse(502, `Bad gateway: session "${session}" could not take the request`);
}

/** Everything the proxy needs besides the request. */
export interface ProxyDeps {
  config: EntryConfig;
  registry: SessionRegistry;
  deadlines: HeadDeadlines;
  state: EntryState;
  /** Per-session rate limits (this entry's own, or shared by several entries); undefined when none is configured. */
  rateLimits: RateLimiter | undefined;
  /** Told of each visitor a session's access rules keep out. */
  refused?: (session: string, reason: RefusalReason) => void;
  /** Unverified webhook bodies held now: bounded entry-wide and per session. */
  webhookBuffers: WebhookBuffers;
  /** Sign-on for sessions that ask for it; undefined without TUNNEL_OIDC_ISSUER (or until its provider is discovered). */
  signOn?: SignOn;
}

/** Who a visitor is, as far as the entry knows: its address, and once signed on, its email. */
export interface Visitor {
  address: string;
  email?: string;
  /** The session's access rules the request was admitted under (set by admit). */
  policy?: AccessPolicy;
}

/** Entry-wide state the proxy consults. */
export interface EntryState {
  /** Set on SIGTERM/SIGINT: no new requests or uplinks. */
  draining: boolean;
  /** Visitors' WebSockets passed through, here or to another entry: counted per session, held to one budget, closed with 1001 when the entry drains. */
  webSockets: VisitorWebSockets;
}

/** The 429 answer, with Retry-After and RateLimit-* headers. */
function tooManyRequests(session: string, decision: RateDecision): Response {
  const retryAfter = Math.max(1, Math.ceil(decision.retryAfter));
  return new Response(`Too many requests: session "${session}" is limited to ${decision.limit} requests per second\n`, {
    status: 429,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "retry-after": String(retryAfter),
      "ratelimit-limit": String(decision.limit),
      "ratelimit-remaining": "0",
      "ratelimit-reset": String(retryAfter),
      "ratelimit-policy": `${decision.limit};w=1`,
      "x-tunnel2-error": "429",
    },
  });
}

/**
 * The checks every visitor request passes before it gets a stream: draining,
 * a connected client, the session's access rules (by address and
 * credentials: `remoteAddress` is the visitor's), the rate limit, the body
 * limit, the stream limit. Returns the uplink to use, or the answer that
 * refuses the request.
 */
export async function admit(request: Request, session: string, deps: ProxyDeps, visitor: Visitor): Promise<Uplink | Response> {
  if (deps.state.draining) {
    return errorResponse(503, "Service unavailable: the tunnel entry is shutting down");
  }
  const uplink = deps.registry.pick(session);
  if (!uplink) {
    return errorResponse(502, `Bad gateway: no tunnel client is connected for session "${session}"`);
  }
  const policy = deps.registry.get(session)?.newest.access;
  if (policy) {
    visitor.policy = policy;
    const refusal = refuseByHead(request, visitor.address, session, policy) ??
      (policy.oidcAllow.length > 0 ? await signOnGate(request, session, policy, deps.signOn, visitor) : undefined);
    if (refusal instanceof Response) return refusal; // the sign-on's own pages and redirects
    if (refusal) {
      deps.refused?.(session, refusal.reason);
      return refusal.response;
    }
  }
  if (deps.rateLimits) {
    const decision = await deps.rateLimits.check(session);
    if (decision) return tooManyRequests(session, decision);
  }
  const maxBody = deps.config.maxBodyBytes;
  if (maxBody !== undefined && Number(request.headers.get("content-length") ?? 0) > maxBody) {
    return errorResponse(413, `Payload too large: request bodies are limited to ${maxBody} bytes`);
  }
  if (deps.registry.activeStreams(session) >= deps.config.maxStreamsPerSession) {
    return errorResponse(503, `Service unavailable: session "${session}" has too many requests in flight`);
  }
  return uplink;
}

/**
 * Waits for a stream's response head; the error answer if it fails. The head
 * deadline runs from when the request body has been sent (`bodySent`), so a
 * long upload is not cut short by it.
 */
export async function awaitResponseHead(
  stream: MuxStream,
  request: Request,
  session: string,
  deps: ProxyDeps,
  bodySent?: Promise<void>,
): Promise<ResponseHead | Response> {
  let waiting: { settle(): void } | undefined;
  let done = false;
  const track = () => {
    if (!done) waiting = deps.deadlines.track(stream, request.signal);
  };
  if (bodySent) bodySent.then(track);
  else track();
  try {
    return await stream.responseHead;
  } catch (err) {
    return failureResponse(err, session);
  } finally {
    done = true;
    waiting?.settle();
  }
}

/**
 * Forwards one visitor request through the session's uplink and streams the
 * answer back. Once admitted, the request's connection is exempt from the
 * idle timeout until its answer is complete: the head may take up to
 * REQUEST_TIMEOUT_MS and a streamed body may stay silent for long (SSE).
 */
export async function proxyRequest(
  request: Request,
  session: string,
  env: EntryBindings,
  deps: ProxyDeps,
): Promise<Response> {
  const hasBody = request.body !== null && !isGetOrHead(request.method);
  const head = requestHead(request, forwardedFor(request, env), deps.config.publicScheme, hasBody);
  const refusal = refuseHead(head);
  if (refusal) return refusal;
  const visitor: Visitor = { address: env.remoteAddress };
  const uplink = await admit(request, session, deps, visitor);
  if (uplink instanceof Response) return uplink;
  let body = hasBody ? request.body : null;
  const policy = visitor.policy;
  if (policy) head.headers = headersForTarget(head.headers, policy, visitor);
  if (policy?.webhook) {
    // The connection's idle timeout would cut a slow body before its deadline, with no answer.
    const resume = env.suspendIdleTimeout();
    const verified = await verifiedBody(request, session, policy.webhook, deps.config.requestTimeoutMs, deps.webhookBuffers).finally(resume);
    if (!(verified instanceof Uint8Array)) {
      deps.refused?.(session, verified.reason);
      return verified.response;
    }
    if (hasBody) body = bytesBody(verified);
  }
  const resumeIdle = env.suspendIdleTimeout();
  try {
    return await forward(request, session, head, body, uplink, deps, resumeIdle);
  } catch (err) {
    resumeIdle();
    throw err;
  }
}

/**
 * The head's headers as the target gets them under access rules: no
 * Authorization the entry checked, no sign-on cookie, and the signed-on
 * address in X-Tunnel2-User-Email.
 */
export function headersForTarget(headers: HeaderList, policy: AccessPolicy, visitor: Visitor): HeaderList {
  const signOn = policy.oidcAllow.length > 0;
  const out: HeaderList = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (policy.basicAuth && lower === "authorization") continue;
    if (signOn && lower === "cookie") {
      const kept = withoutSignOnCookies(value);
      if (kept !== undefined) out.push([name, kept]);
      continue;
    }
    out.push([name, value]);
  }
  if (visitor.email !== undefined) out.push(["x-tunnel2-user-email", visitor.email]);
  return out;
}

/** A body already in hand, as a stream of one chunk. */
function bytesBody(bytes: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

/** proxyRequest() past admission; calls `done` once the answer is complete or all but written. */
async function forward(
  request: Request,
  session: string,
  head: RequestHead,
  body: ReadableStream<Uint8Array<ArrayBuffer>> | null,
  uplink: Uplink,
  deps: ProxyDeps,
  done: () => void,
): Promise<Response> {
  const maxBody = deps.config.maxBodyBytes;
  let stream: MuxStream;
  try {
    stream = uplink.mux!.open(head, body === null);
  } catch (err) {
    done();
    return failureResponse(err, session);
  }
  // A body that stops arriving may not hold its stream (and the target's request) forever.
  const bodySent = body ? stream.sendBody(body, ResetCode.Cancel, maxBody, deps.config.requestTimeoutMs) : undefined;
  const answer = await awaitResponseHead(stream, request, session, deps, bodySent);
  if (answer instanceof Response) {
    done();
    return answer;
  }
  if (answer.status === 101) {
    stream.reset(ResetCode.ProtocolError, "101 answer to a request that is not a WebSocket upgrade");
    done();
    return errorResponse(502, `Bad gateway: session "${session}" answered 101 to a plain request`);
  }
  return await visitorResponse(stream, request.method, answer, session, deps.config.domain, done);
}

/** The visitor's answer from a response head and the stream's body (see relayAnswer for `done`). */
export function visitorResponse(
  stream: MuxStream,
  method: string,
  head: ResponseHead,
  session: string,
  domain: string,
  done: () => void,
): Promise<Response> {
  const source = {
    status: head.status,
    headers: new Headers(answerHeaders(head.headers, `${session}.${domain}`)),
    readAll: () => stream.readAll() as Promise<Uint8Array<ArrayBuffer>>,
    stream: (done: () => void) => {
      stream.onBodyDone = done;
      return stream.body;
    },
    discard: () => stream.body.cancel().catch(() => {}),
  };
  return relayAnswer(method, source, { who: `session "${session}"`, failed: (err) => failureResponse(err, session) }, done);
}
