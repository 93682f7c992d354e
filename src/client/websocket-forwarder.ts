import { FrameKind, ResetCode } from "../protocol/constants.ts";
import type { RequestHead } from "../protocol/head.ts";
import { decodeClose, encodeClose, encodeRecord, RecordKind } from "../protocol/websocket-records.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { readRecords } from "../mux/record-reader.ts";
import { carriableHead, type ForwarderDeps, targetUrl } from "./forwarder.ts";
import { openTargetWebSocket, type TargetWebSocket } from "../http/target-web-socket.ts";
import type { WebSocketTap } from "./target-tap.ts";

/** The target's WebSocket URL for a request: same path and query, ws: or wss:. */
export function targetWebSocketUrl(target: URL, requestTarget: string): URL {
  const url = new URL(targetUrl(target, requestTarget));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

/**
 * Forwards a visitor's WebSocket (a stream flagged `websocket`) to the target:
 * opens a WebSocket there with the visitor's headers, answers 101 with the
 * chosen subprotocol (or the target's refusal, or a reset when it cannot be
 * reached), then carries messages both ways as records until either side
 * closes. The target is read only as fast as the stream's window allows.
 */
export async function forwardWebSocket(stream: MuxStream, head: RequestHead, deps: ForwarderDeps): Promise<void> {
  const abort = new AbortController();
  stream.onReset = () => abort.abort();
  const started = performance.now();
  let opened;
  try {
    opened = await openTargetWebSocket(targetWebSocketUrl(deps.target, head.target), head.headers, abort.signal);
  } catch (err) {
    if (!abort.signal.aborted) {
      deps.warn?.("target unreachable", { target: deps.target.origin, error: (err as Error).message });
      deps.onTargetUnreachable?.();
      stream.reset(ResetCode.TargetUnreachable, `${deps.target.origin}: ${(err as Error).message}`);
      deps.onAnswered?.(502, performance.now() - started, head);
    }
    return;
  }
  if (!opened.accepted) {
    const { status, body } = opened;
    const answer = carriableHead(status, [...opened.headers, ["content-length", String(body.byteLength)]], deps);
    if (!answer) return stream.reset(ResetCode.TargetError, "Response head too large for the tunnel");
    stream.sendEncodedHead(FrameKind.ResponseHead, answer.payload, body.byteLength === 0);
    if (body.byteLength > 0) await stream.sendWhole(body as Uint8Array<ArrayBuffer>);
    deps.onAnswered?.(status, performance.now() - started, head);
    return;
  }
  const socket = opened.socket;
  if (abort.signal.aborted) {
    socket.destroy();
    return;
  }
  const answer = carriableHead(101, opened.headers, deps);
  if (!answer) {
    socket.destroy();
    return stream.reset(ResetCode.TargetError, "Response head too large for the tunnel");
  }
  stream.sendEncodedHead(FrameKind.ResponseHead, answer.payload, false);
  deps.onAnswered?.(101, performance.now() - started, head);
  // The stream ended abnormally (visitor lost, uplink lost): the target is told the other side went away.
  stream.onReset = () => socket.close(1001, "Visitor went away");
  let closeSent = false;
  const tap = deps.webSocketTap?.({ method: head.method, path: head.target, headers: head.headers, responseHeaders: opened.headers });
  socket.start({
    // At once when the window and the writer allow; otherwise the target's socket pauses until the record is queued.
    onMessage: (text, data) => {
      if (closeSent) return;
      tap?.message(false);
      const record = encodeRecord(text ? RecordKind.Text : RecordKind.Binary, data);
      return stream.trySendBytes(record) ? undefined : stream.sendBytes(record).catch(() => {});
    },
    onClose: (code, reason) => {
      tap?.closed(code);
      if (closeSent) return;
      closeSent = true;
      stream.sendBytes(encodeClose(code, reason)).then(() => stream.sendEnd(), () => {});
    },
  });
  await pumpToTarget(stream, socket, tap);
  tap?.closed(1005);
}

/** Entry → target: records to messages, each awaiting the socket's drain. */
async function pumpToTarget(stream: MuxStream, socket: TargetWebSocket, tap: WebSocketTap | undefined): Promise<void> {
  try {
    await readRecords(stream, (record) => {
      if (record.kind === RecordKind.Close) {
        const { code, reason } = decodeClose(record.payload);
        return socket.close(code, reason);
      }
      tap?.message(true);
      return socket.send(record.kind === RecordKind.Text, record.payload);
    });
  } catch (err) {
    if (!stream.resetError) {
      // A record that makes no sense: end this WebSocket, not the uplink.
      stream.reset(ResetCode.ProtocolError, (err as Error).message);
      socket.close(1011, "Tunnel protocol error");
    }
  }
}
