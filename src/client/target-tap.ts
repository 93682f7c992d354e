import type { TargetRequest, TargetResponse } from "../runtime/client-runtime.ts";
import type { HeaderList } from "../protocol/head.ts";

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
}
