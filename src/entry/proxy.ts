import { ResetCode } from "../protocol/constants.ts";
import { endToEndHeaders } from "../protocol/end-to-end-headers.ts";
import type { RequestHead, ResponseHead } from "../protocol/head.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import type { EntryConfig } from "../config.ts";
import type { SessionRegistry } from "./session-registry.ts";

/** Statuses whose responses never carry a body. */
const NO_BODY_STATUS = new Set([204, 205, 304]);

/** A plain-text error answer from the entry itself. */
export function errorResponse(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "x-tunnel2-error": String(status) },
  });
}

/** The path and query of a request URL, as sent (origin-form). */
function originForm(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash === -1 ? "/" : url.slice(slash);
}

/** The head sent to the client: end-to-end headers plus X-Forwarded-*. */
export function requestHead(request: Request, remoteAddress: string, scheme: string): RequestHead {
  const headers = endToEndHeaders(request.headers, ["host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"]);
  const priorFor = request.headers.get("x-forwarded-for");
  headers.push(
    ["x-forwarded-for", priorFor ? `${priorFor}, ${remoteAddress}` : remoteAddress],
    ["x-forwarded-proto", scheme],
    ["x-forwarded-host", request.headers.get("host") ?? ""],
  );
  return { method: request.method, target: originForm(request.url), headers };
}

/** Waits for the response head, the timeout, or the visitor leaving. */
function awaitHead(stream: MuxStream, timeoutMs: number, signal: AbortSignal): Promise<ResponseHead> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.reset(ResetCode.Timeout, `No response head within ${timeoutMs} ms`);
    }, timeoutMs);
    const onAbort = () => stream.reset(ResetCode.Cancel, "Visitor disconnected");
    signal.addEventListener("abort", onAbort, { once: true });
    stream.responseHead.then(resolve, reject).finally(() => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    });
  });
}

/** Maps a stream that ended before its head to the visitor's answer. */
function failureResponse(err: unknown, session: string): Response {
  if (err instanceof StreamResetError) {
    switch (err.code) {
      case ResetCode.Timeout:
        return errorResponse(504, `Gateway timeout: the tunnel client of session "${session}" sent no response in time`);
      case ResetCode.TargetUnreachable:
        return errorResponse(502, `Bad gateway: the target of session "${session}" could not be reached (${err.message})`);
      case ResetCode.TargetError:
        return errorResponse(502, `Bad gateway: the target of session "${session}" failed (${err.message})`);
      default:
        return errorResponse(502, `Bad gateway: session "${session}" ended the request (${err.message})`);
    }
  }
  return errorResponse(502, `Bad gateway: session "${session}": ${(err as Error).message}`);
}

/** Everything the proxy needs besides the request. */
export interface ProxyDeps {
  config: EntryConfig;
  registry: SessionRegistry;
}

/** Forwards one visitor request through the session's uplink and streams the answer back. */
export async function proxyRequest(
  request: Request,
  session: string,
  remoteAddress: string,
  deps: ProxyDeps,
): Promise<Response> {
  const uplink = deps.registry.pick(session);
  if (!uplink) {
    return errorResponse(502, `Bad gateway: no tunnel client is connected for session "${session}"`);
  }
  if (deps.registry.activeStreams(session) >= deps.config.maxStreamsPerSession) {
    return errorResponse(503, `Service unavailable: session "${session}" has too many requests in flight`);
  }
  const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
  let stream: MuxStream;
  try {
    stream = uplink.mux!.open(requestHead(request, remoteAddress, deps.config.publicScheme), !hasBody);
  } catch (err) {
    return failureResponse(err, session);
  }
  if (hasBody) stream.sendBody(request.body!, ResetCode.Cancel);

  let head: ResponseHead;
  try {
    head = await awaitHead(stream, deps.config.requestTimeoutMs, request.signal);
  } catch (err) {
    return failureResponse(err, session);
  }

  const headers = new Headers();
  for (const [name, value] of head.headers) headers.append(name, value);
  const bodyless = request.method === "HEAD" || NO_BODY_STATUS.has(head.status);
  if (bodyless) {
    stream.body.cancel().catch(() => {});
    return new Response(null, { status: head.status, headers });
  }
  return new Response(stream.body, { status: head.status, headers });
}
