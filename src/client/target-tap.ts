import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { HeaderList } from "../protocol/head.ts";
import type { TcpConnectionRecord } from "./tcp-forwarder.ts";

export type FetchTarget = (request: TargetRequest) => Promise<TargetResponse>;

/** Told of one visitor WebSocket's life. */
export interface WebSocketTap {
  message(toTarget: boolean): void;
  closed(code: number): void;
}

/**
 * What watches a tunnel's traffic (the request inspector, when it is on):
 * the client hands it its way to the target and reports WebSockets; it
 * never holds a byte back.
 */
export interface TargetTap {
  /** The same fetch, with every request and response seen as it passes. */
  wrapFetch(tunnel: string, target: () => URL, fetchTarget: FetchTarget): FetchTarget;
  /** A visitor's WebSocket the target accepted. */
  webSocket(tunnel: string, request: { method: string; path: string; headers: HeaderList; responseHeaders: HeaderList }): WebSocketTap;
  /** A TCP connection of a TCP or TLS tunnel, from when it opened; its counts change as bytes flow, `endedAt` is set at its end. */
  tcpConnection(tunnel: string, record: TcpConnectionRecord): void;
}
