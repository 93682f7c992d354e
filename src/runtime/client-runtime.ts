import type { HeaderList } from "../protocol/head.ts";

/** A request the client sends to its local target. */
export interface TargetRequest {
  url: string;
  method: string;
  headers: HeaderList;
  body: ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
}

/** The target's answer, bytes exactly as the target sent them (never decompressed). */
export interface TargetResponse {
  status: number;
  headers: HeaderList;
  body: ReadableStream<Uint8Array> | null;
  /** Reads the whole body (for small bodies): the runtime's fastest way. */
  bytes(): Promise<Uint8Array<ArrayBuffer>>;
}

/**
 * The part of the standard `WebSocket` an uplink uses. Bun's built-in client
 * is one; on Deno the adapter supplies its own (see adapter/deno).
 */
export interface UplinkWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Bun's event carries why a connection failed (a TLS certificate not trusted, say) in `message`. */
  onerror: ((event: Event & { message?: string }) => void) | null;
}

/** What each runtime adapter provides to the client main. */
export interface ClientRuntime {
  name: string;
  /** Opens the uplink WebSocket to `url` (ws: or wss:), with these headers on its upgrade request. */
  openWebSocket(url: string, headers: Record<string, string>): UplinkWebSocket;
  /**
   * Sends one request to the target: no redirects followed, no
   * decompression, connections kept alive for the next. How many run at
   * once is bounded by the caller (the client's limiter).
   */
  createTargetFetch(): (request: TargetRequest) => Promise<TargetResponse>;
  /**
   * This machine's host name and interface addresses, as far as the runtime
   * may read them without asking (Deno: only with --allow-sys); none else.
   */
  machineAddresses(): string[];
  /** Serves a small local HTTP app (the request inspector); throws when the address is taken. */
  serveLocal(options: LocalServeOptions): LocalServer;
}

export interface LocalServeOptions {
  hostname: string;
  /** 0: any free port. */
  port: number;
  fetch: (request: Request) => Response | Promise<Response>;
}

export interface LocalServer {
  port: number;
  stop(): void;
}
