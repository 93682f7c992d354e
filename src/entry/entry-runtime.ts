import type { FrameSocket } from "../mux/frame-socket.ts";

/** What a runtime adapter tells the entry about an uplink's WebSocket. */
export interface UplinkSocketEvents {
  onOpen(socket: FrameSocket): void;
  /** One binary message, exactly its bytes. */
  onMessage(bytes: Uint8Array): void;
  /** A text message: not part of the protocol. */
  onText(): void;
  onClose(code: number, reason: string): void;
}

/** Per-request bindings the adapter hands the Hono app (its `c.env`). */
export interface EntryBindings {
  /** The visitor's address, for X-Forwarded-For. */
  remoteAddress: string;
  /** Upgrades this request to an uplink WebSocket; undefined if not an upgrade. */
  upgradeUplink(events: UplinkSocketEvents): Response | undefined;
}

/** A running server. */
export interface ServerHandle {
  port: number;
  /** Stops listening; open connections are closed. */
  stop(): Promise<void>;
}

/** What each runtime adapter provides to the entry main. */
export interface EntryRuntime {
  name: string;
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request, env: EntryBindings) => Response | Promise<Response>;
  }): Promise<ServerHandle>;
}
