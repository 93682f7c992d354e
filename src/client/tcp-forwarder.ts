import { FrameKind, ResetCode } from "../protocol/constants.ts";
import type { HeaderList, RequestHead } from "../protocol/head.ts";
import { proxyHeaderV2 } from "../protocol/proxy-protocol.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { pipeSocket } from "../mux/socket-pipe.ts";
import type { TcpConnection } from "../runtime/tcp.ts";

/** One TCP connection through the tunnel, as the client saw it (for the inspector and the status line). */
export interface TcpConnectionRecord {
  visitor: string;
  startedAt: number;
  /** Bytes from the visitor to the target, and back. */
  bytesIn: number;
  bytesOut: number;
  /** Set once the connection is over; `error` when it did not end cleanly. */
  endedAt?: number;
  error?: string;
}

/** What forwarding a TCP connection needs. */
export interface TcpForwarderDeps {
  /** The target, as host and port (a port alone may move between 127.0.0.1 and ::1). */
  readonly target: URL;
  onTargetUnreachable?: () => void;
  connect: (host: string, port: number) => Promise<TcpConnection>;
  /** Send a PROXY protocol v2 header to the target first (--proxy-protocol). */
  proxyProtocol: boolean;
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** Told of each connection when it opens; the record's counts change as bytes flow. */
  onConnection?: (record: TcpConnectionRecord) => void;
}

function header(headers: HeaderList, name: string): string | undefined {
  return headers.find(([n]) => n === name)?.[1];
}

/**
 * Forwards one TCP connection (a stream flagged `tcp`) to the target:
 * connects, answers 200 (or resets the stream with TargetUnreachable, which
 * the entry turns into a reset of the visitor's connection), then carries
 * bytes both ways, half-closes and resets included.
 */
export async function forwardTcp(stream: MuxStream, head: RequestHead, deps: TcpForwarderDeps): Promise<void> {
  let gone = false;
  stream.onReset = () => (gone = true);
  const host = deps.target.hostname.replace(/^\[|\]$/g, "");
  const port = Number(deps.target.port);
  let target: TcpConnection;
  try {
    target = await deps.connect(host, port);
  } catch (err) {
    if (gone) return;
    deps.warn?.("target unreachable", { target: `${deps.target.hostname}:${port}`, error: (err as Error).message });
    deps.onTargetUnreachable?.();
    stream.reset(ResetCode.TargetUnreachable, (err as Error).message);
    return;
  }
  if (gone) return target.reset();
  const visitor = header(head.headers, "visitor") ?? "";
  if (deps.proxyProtocol) {
    const proxy = proxyHeaderV2(visitor, header(head.headers, "arrived") ?? "");
    if (!proxy) {
      deps.warn?.("no PROXY header: the visitor's address is unknown", { visitor });
      target.reset();
      return stream.reset(ResetCode.TargetError, "No visitor address for the PROXY protocol header");
    }
    target.write(proxy);
  }
  stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [] }, false);
  const record: TcpConnectionRecord = { visitor, startedAt: Date.now(), bytesIn: 0, bytesOut: 0 };
  deps.onConnection?.(record);
  const pipe = pipeSocket(stream, target, (direction, n) => {
    if (direction === "written") record.bytesIn += n;
    else record.bytesOut += n;
  });
  target.attach(pipe);
  await pipe.done;
  record.endedAt = Date.now();
  if (stream.resetError) record.error = stream.resetError.message;
}
