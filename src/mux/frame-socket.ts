/**
 * What the frame writer needs from a WebSocket, whichever runtime made it.
 * Adapters implement it for Bun's server socket; {@linkcode WebSocketFrameSocket}
 * implements it for the standard `WebSocket` (clients, Deno's server side).
 */
export interface FrameSocket {
  /**
   * Sends one binary message (exactly the view's bytes). Returns `false` when
   * the socket's buffer is past its threshold and the caller must await
   * {@linkcode FrameSocket.drained} before sending more. Throws if the socket
   * dropped the message or is closed.
   */
  send(frame: Uint8Array<ArrayBuffer>): boolean;
  /** Resolves once the socket's buffer is low again (or the socket closed). */
  drained(): Promise<void>;
  /** Closes the socket with a code and a short reason. */
  close(code: number, reason: string): void;
}
