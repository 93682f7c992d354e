// The few Deno APIs the adapter uses, described structurally so that
// Bun's type checks need no Deno typings.

export interface DenoServeInfo {
  remoteAddr: { hostname?: string };
  /** Settles once the answer to this request has been sent (or failed). */
  completed: Promise<void>;
}

export interface DenoHttpServer {
  addr: { port: number };
  /** Resolves when the server stops; rejects when its accept loop fails (e.g. out of descriptors). */
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

export interface DenoGlobal {
  serve(
    /** With `cert` and `key` (PEM), HTTPS/WSS. */
    options: { port: number; hostname: string; onListen?: () => void; cert?: string; key?: string },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number; protocol?: string }): { socket: WebSocket; response: Response };
  permissions: { querySync(descriptor: { name: "sys"; kind: string }): { state: "granted" | "prompt" | "denied" } };
}

export interface DenoConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  setNoDelay(noDelay?: boolean): void;
  /** TLS connections: completes the handshake (rejects on a certificate not trusted). */
  handshake?(): Promise<unknown>;
  close(): void;
}

export interface DenoNet {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  /** TLS over a connection from `connect` (a TLS connection has no setNoDelay of its own). */
  startTls(conn: DenoConn, options: { hostname: string }): Promise<DenoConn>;
}
