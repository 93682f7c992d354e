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
}

/** What each runtime adapter provides to the client main. */
export interface ClientRuntime {
  name: string;
  /**
   * Sends one request to the target: no redirects followed, no
   * decompression, at most `maxConnections` connections to the target.
   */
  createTargetFetch(maxConnections: number): (request: TargetRequest) => Promise<TargetResponse>;
}
