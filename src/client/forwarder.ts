import { FrameKind, MAX_PAYLOAD_BYTES, ResetCode } from "../protocol/constants.ts";
import { endToEndList, isBodyless, isGetOrHead } from "../protocol/end-to-end-headers.ts";
import { carriableHeaders, encodeHead, type HeaderList, type RequestHead } from "../protocol/head.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { StreamState } from "../mux/stream-state.ts";
import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { ConcurrencyLimiter } from "./concurrency-limiter.ts";
import type { WebSocketTap } from "./target-tap.ts";

/** A response still streaming this long after its head gives up its slot. */
const LONG_LIVED_MS = 1000;

/** Everything forwarding needs besides the stream. */
export interface ForwarderDeps {
  /** Read per request: a target named by port may move between 127.0.0.1 and ::1. */
  readonly target: URL;
  /** The target could not be reached (to look for it again). */
  onTargetUnreachable?: () => void;
  fetchTarget: (request: TargetRequest) => Promise<TargetResponse>;
  /** Told of each visitor WebSocket the target accepted (the request inspector). */
  webSocketTap?: (request: { method: string; path: string; headers: HeaderList; responseHeaders: HeaderList }) => WebSocketTap;
  limiter: ConcurrencyLimiter;
  /** Told of each answered request: the target's status (or 502) and ms until the head was sent. */
  onAnswered?: (status: number, ms: number, head: RequestHead) => void;
  /** Told of what the visitor is not told: why the target could not answer, headers left out. */
  warn?: (message: string, fields: Record<string, unknown>) => void;
}

/**
 * The request headers to send the target, framed for the body that is
 * actually sent: no Transfer-Encoding (the runtime frames the body itself),
 * and no Content-Length other than 0 when no body is sent. Returns a string
 * when the head's lengths make no sense (several, or not a number).
 */
export function framedRequestHeaders(headers: HeaderList, sendsBody: boolean): HeaderList | string {
  let lengths = 0;
  let out: HeaderList | undefined;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    let keep = true;
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      if (++lengths > 1 || !/^[0-9]{1,15}$/.test(value)) return "Content-Length given twice or not a number";
      keep = sendsBody || value === "0";
    } else if (name.length === 17 && name.toLowerCase() === "transfer-encoding") {
      keep = false;
    }
    if (keep) out?.push(headers[i]);
    else out ??= headers.slice(0, i);
  }
  return out ?? headers;
}

/**
 * The response head to send the entry, encoded: only headers the entry
 * accepts (the others logged). Undefined (and logged) when it does not fit
 * one frame.
 */
export function carriableHead(status: number, headers: HeaderList, deps: ForwarderDeps): { headers: HeaderList; payload: Uint8Array } | undefined {
  const carried = carriableHeaders(headers);
  if (carried.dropped.length > 0) {
    deps.warn?.("target response headers left out: control characters or bad names", { headers: carried.dropped.slice(0, 10) });
  }
  try {
    return { headers: carried.headers, payload: encodeHead({ status, headers: carried.headers }) };
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    deps.warn?.("target response head too large for the tunnel", { error: err.message });
    return undefined;
  }
}

/** The Content-Length of a response small enough to send as one frame. */
function smallLength(headers: HeaderList): number | undefined {
  for (const [name, value] of headers) {
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      const n = Number(value);
      return Number.isInteger(n) && n >= 0 && n <= MAX_PAYLOAD_BYTES ? n : undefined;
    }
  }
  return undefined;
}

/** The target's base path without its last slash ("" for none): what every request target is put under. */
export function basePath(target: URL): string {
  return target.pathname.endsWith("/") ? target.pathname.slice(0, -1) : target.pathname;
}

/**
 * The target URL for a request's path and query, under the target's base
 * path. Dot segments (`..`, `%2e%2e`) are resolved against the request's own
 * root first, so they can never climb out of the base path (fetch would
 * resolve them against the whole URL).
 */
export function targetUrl(target: URL, requestTarget: string): string {
  const base = basePath(target);
  if (base) {
    // WHATWG URL parsing also reads `\` as `/`: resolve everything it would, here.
    const resolved = new URL(`http://x${requestTarget}`);
    requestTarget = resolved.pathname + resolved.search;
  }
  return `${target.origin}${base}${requestTarget}`;
}

/**
 * Forwards one stream to the target and streams the response back. A reset
 * from the entry aborts the target request; a target that cannot be reached
 * or fails mid-body resets the stream with the reason.
 */
export async function forward(stream: MuxStream, head: RequestHead, deps: ForwarderDeps): Promise<void> {
  const abort = new AbortController();
  stream.onReset = () => abort.abort();
  const started = performance.now();
  const release = await deps.limiter.acquire();
  let longLived: ReturnType<typeof setTimeout> | undefined;
  try {
    if (abort.signal.aborted) return;
    const hasBody = stream.peerSendsBody;
    if (hasBody && isGetOrHead(head.method)) {
      // The entry never sends one; a target would read its body as the next request.
      stream.reset(ResetCode.ProtocolError, "A GET or HEAD request with a body");
      return;
    }
    const headers = framedRequestHeaders(head.headers, hasBody);
    if (typeof headers === "string") {
      stream.reset(ResetCode.ProtocolError, headers);
      return;
    }
    let response: TargetResponse;
    try {
      response = await deps.fetchTarget({
        url: targetUrl(deps.target, head.target),
        method: head.method,
        headers,
        body: hasBody ? stream.body : null,
        signal: abort.signal,
      });
    } catch (err) {
      if (!abort.signal.aborted) {
        deps.warn?.("target unreachable", { target: deps.target.origin, error: (err as Error).message });
        deps.onTargetUnreachable?.();
        stream.reset(ResetCode.TargetUnreachable, `${deps.target.origin}: ${(err as Error).message}`);
        deps.onAnswered?.(502, performance.now() - started, head);
      }
      return;
    }
    if (abort.signal.aborted) {
      response.body?.cancel().catch(() => {});
      return;
    }
    // `response.body` is read only once the body is known to stream: reading it may build the stream.
    let bodyless = isBodyless(head.method, response.status);
    const answer = carriableHead(response.status, endToEndList(response.headers), deps);
    if (!answer) {
      response.body?.cancel().catch(() => {});
      stream.reset(ResetCode.TargetError, "Response head too large for the tunnel");
      deps.onAnswered?.(502, performance.now() - started, head);
      return;
    }
    const length = bodyless ? undefined : smallLength(answer.headers);
    if (length !== undefined) {
      // A small body of known length: read it whole and send it as one frame.
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await response.bytes();
      } catch (err) {
        if (!abort.signal.aborted) stream.reset(ResetCode.TargetError, `Body failed: ${(err as Error).message}`);
        return;
      }
      stream.sendEncodedHead(FrameKind.ResponseHead, answer.payload, bytes.byteLength === 0);
      deps.onAnswered?.(response.status, performance.now() - started, head);
      if (bytes.byteLength > 0) await stream.sendWhole(bytes);
      return;
    }
    const body = bodyless ? null : response.body;
    bodyless ||= body === null;
    stream.sendEncodedHead(FrameKind.ResponseHead, answer.payload, bodyless);
    deps.onAnswered?.(response.status, performance.now() - started, head);
    if (bodyless) {
      response.body?.cancel().catch(() => {});
      return;
    }
    longLived = setTimeout(release, LONG_LIVED_MS);
    await stream.sendBody(body!, ResetCode.TargetError);
    if (stream.state === StreamState.LocalClosed) {
      // The target answered without reading the whole request body: stop the upload.
      stream.reset(ResetCode.Cancel, "Response complete before the request body was read");
    }
  } finally {
    clearTimeout(longLived);
    release();
  }
}
