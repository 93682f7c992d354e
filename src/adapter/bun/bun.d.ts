// The few Bun APIs the adapter uses, described structurally so that
// `deno check` needs no Bun typings.

export interface BunServerWebSocket<T> {
  data: T;
  readyState: number;
  /** Bytes sent, -1 when queued under backpressure, 0 when dropped. */
  send(data: Uint8Array | string, compress?: boolean): number;
  getBufferedAmount(): number;
  close(code?: number, reason?: string): void;
}

export interface BunServer {
  port: number;
  upgrade<T>(request: Request, options: { data: T; headers?: HeadersInit }): boolean;
  requestIP(request: Request): { address: string } | null;
  /** Sets the idle timeout of a request's connection in seconds (0 = none) until the response completes, and after it. */
  timeout(request: Request, seconds: number): void;
  /** Without `true`: stops listening, closes idle connections, resolves once every answer has been written. */
  stop(closeActiveConnections?: boolean): Promise<void>;
  /** Requests whose answers are not yet written; open WebSockets. */
  readonly pendingRequests: number;
  readonly pendingWebSockets: number;
}

export interface BunWebSocketHandler<T> {
  open(ws: BunServerWebSocket<T>): void;
  message(ws: BunServerWebSocket<T>, message: string | Uint8Array): void;
  close(ws: BunServerWebSocket<T>, code: number, reason: string): void;
  drain(ws: BunServerWebSocket<T>): void;
  maxPayloadLength?: number;
  backpressureLimit?: number;
  closeOnBackpressureLimit?: boolean;
  idleTimeout?: number;
  perMessageDeflate?: boolean;
}

export interface BunGlobal {
  serve<T>(options: {
    port: number;
    hostname: string;
    /** PEM certificate chain and private key: serve HTTPS/WSS. */
    tls?: { cert: string; key: string };
    idleTimeout?: number;
    maxRequestBodySize?: number;
    fetch(request: Request, server: BunServer): Response | Promise<Response> | undefined;
    websocket: BunWebSocketHandler<T>;
  }): BunServer;
}
