import { FrameKind, MAX_PAYLOAD_BYTES, ResetCode } from "../protocol/constants.ts";
import { endToEndList, isBodyless } from "../protocol/end-to-end-headers.ts";
import type { HeaderList, RequestHead } from "../protocol/head.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { StreamState } from "../mux/stream-state.ts";
import type { TargetRequest, TargetResponse } from "./client-runtime.ts";
import type { ConcurrencyLimiter } from "./concurrency-limiter.ts";


/** A response still streaming this long after its head gives up its slot. */
const LONG_LIVED_MS = 1000;

/** Everything forwarding needs besides the stream. */
export interface ForwarderDeps {
  target: URL;
  fetchTarget: (request: TargetRequest) => Promise<TargetResponse>;
  limiter: ConcurrencyLimiter;
  /** Told of each answered request: the target's status (or 502) and ms until the head was sent. */
  onAnswered?: (status: number, ms: number) => void;
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

/** The target URL for a request's path and query, under the target's base path. */
export function targetUrl(target: URL, requestTarget: string): string {
  const base = target.pathname.endsWith("/") ? target.pathname.slice(0, -1) : target.pathname;
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
    let response: TargetResponse;
    try {
      response = await deps.fetchTarget({
        url: targetUrl(deps.target, head.target),
        method: head.method,
        headers: head.headers,
        body: hasBody ? stream.body : null,
        signal: abort.signal,
      });
    } catch (err) {
      if (!abort.signal.aborted) {
        stream.reset(ResetCode.TargetUnreachable, `${deps.target.origin}: ${(err as Error).message}`);
        deps.onAnswered?.(502, performance.now() - started);
      }
      return;
    }
    if (abort.signal.aborted) {
      response.body?.cancel().catch(() => {});
      return;
    }
    const bodyless = isBodyless(head.method, response.status) || response.body === null;
    const headers = endToEndList(response.headers);
    const length = bodyless ? undefined : smallLength(headers);
    if (length !== undefined) {
      // A small body of known length: read it whole and send it as one frame.
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await response.bytes();
      } catch (err) {
        if (!abort.signal.aborted) stream.reset(ResetCode.TargetError, `Body failed: ${(err as Error).message}`);
        return;
      }
      stream.sendHead(FrameKind.ResponseHead, { status: response.status, headers }, bytes.byteLength === 0);
      deps.onAnswered?.(response.status, performance.now() - started);
      if (bytes.byteLength > 0) await stream.sendWhole(bytes);
      return;
    }
    stream.sendHead(FrameKind.ResponseHead, { status: response.status, headers }, bodyless);
    deps.onAnswered?.(response.status, performance.now() - started);
    if (bodyless) {
      response.body?.cancel().catch(() => {});
      return;
    }
    longLived = setTimeout(release, LONG_LIVED_MS);
    await stream.sendBody(response.body!, ResetCode.TargetError);
    if (stream.state === StreamState.LocalClosed) {
      // The target answered without reading the whole request body: stop the upload.
      stream.reset(ResetCode.Cancel, "Response complete before the request body was read");
    }
  } finally {
    clearTimeout(longLived);
    release();
  }
}
