import type { FrameSocket } from "../mux/frame-socket.ts";
import type { Logger } from "../log.ts";

/** What a runtime adapter tells the entry about an uplink's WebSocket. */
export interface UplinkSocketEvents {
  onOpen(socket: FrameSocket): void;
  /** One binary message, exactly its bytes. */
  onMessage(bytes: Uint8Array): void;
  /** A text message: not part of the protocol. */
  onText(): void;
  onClose(code: number, reason: string): void;
}

/** A visitor's WebSocket on the entry, whichever runtime made it. */
export interface VisitorSocket {
  /**
   * Sends one message: text for a string, binary for bytes. Returns `false`
   * when the socket's buffer is past its mark: await `drained()` before more.
   * Throws if the socket is closed or dropped the message.
   */
  send(data: string | Uint8Array<ArrayBuffer>): boolean;
  /** Resolves once the socket's buffer is low again (or the socket closed). */
  drained(): Promise<void>;
  close(code?: number, reason?: string): void;
}

/** What a runtime adapter tells the entry about a visitor's WebSocket. */
export interface VisitorSocketEvents {
  onOpen(socket: VisitorSocket): void;
  /** One message: a string for text, bytes for binary (valid during the call only). */
  onMessage(data: string | Uint8Array): void;
  onClose(code: number, reason: string): void;
}

/** How to complete a visitor's WebSocket upgrade. */
export interface VisitorUpgrade {
  /** The subprotocol the target chose, if any. */
  protocol: string | undefined;
  /** Other headers of the target's 101 worth passing on (Set-Cookie). */
  headers: [string, string][];
  events: VisitorSocketEvents;
}

/** Per-request bindings the adapter hands the Hono app (its `c.env`). */
export interface EntryBindings {
  /** The visitor's address, for X-Forwarded-For. */
  remoteAddress: string;
  /**
   * The whole X-Forwarded-For the target sees, when the entry's front says
   * it (a trusted proxy, or the entry that forwarded the request); unset,
   * the visitor's chain plus `remoteAddress`.
   */
  forwardedFor?: string;
  /** Upgrades this request to an uplink WebSocket; undefined if not an upgrade. */
  upgradeUplink(events: UplinkSocketEvents): Response | undefined;
  /** Completes this request's WebSocket upgrade for a visitor; undefined if it is not a valid upgrade. */
  upgradeVisitor(upgrade: VisitorUpgrade): Response | undefined;
  /**
   * Lifts the idle timeout of this request's connection until the returned
   * function is called, which must happen before the response is complete
   * (the keep-alive idle timeout applies again after it). A no-op where the
   * runtime enforces no idle timeout.
   */
  suspendIdleTimeout(): () => void;
}

/** A running server. */
export interface ServerHandle {
  port: number;
  /**
   * Stops listening and closes idle connections; answers still being
   * written to their visitors get up to `graceMs`, then their connections
   * are closed. Resolves with how many answers were cut that way (0: every
   * answer was written).
   */
  stop(graceMs: number): Promise<number>;
}

/** Resolves true once `finished` settles, false after `ms`. */
export function settlesWithin(finished: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    finished.then(() => true, () => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** What each runtime adapter provides to the entry main. */
export interface EntryRuntime {
  name: string;
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request, env: EntryBindings) => Response | Promise<Response>;
    /** Seconds a visitor's connection may sit idle between requests; 0 = never closed. Where the runtime can enforce it. */
    idleTimeoutS: number;
    /** For trouble the server meets outside any request (its listener failing). */
    log: Logger;
    /** Serve HTTPS/WSS with this PEM certificate chain and private key; plain HTTP without. */
    tls?: { cert: string; key: string };
  }): Promise<ServerHandle>;
}
