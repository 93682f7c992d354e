/**
 * How far ahead of the target a visitor may send (WebSocket servers cannot
 * pause a reader): a message that arrives while more than this is still
 * unsent closes the socket with 1008. One message of any size (up to
 * MAX_WEBSOCKET_MESSAGE_BYTES) is taken when little is pending.
 */
export const MAX_AHEAD_BYTES = 32 * 1024 * 1024;

/**
 * Unsent visitor bytes all WebSockets of one entry may hold together. Past
 * it, a socket that itself holds more than {@linkcode FAIR_SHARE_BYTES} is
 * closed with 1013 (try again later) at its next message, so many sockets
 * cannot add up what one may not hold, while sockets that hold little (most
 * of them) go on.
 */
export const MAX_ENTRY_UNSENT_BYTES = 256 * 1024 * 1024;
export const FAIR_SHARE_BYTES = 1024 * 1024;

/** A visitor's WebSocket as the entry tracks it: its session, and how to close it when the entry drains. */
export interface TrackedWebSocket {
  readonly session: string;
  goAway(): void;
}

/** Why a visitor's message is refused: the close code for the visitor and a reason. */
export interface Refusal {
  code: 1008 | 1013;
  reason: string;
}

/**
 * The visitors' WebSockets of one entry, carried to a client of its own or
 * forwarded to another entry alike: which are open (per session, closed
 * with 1001 on drain) and the unsent bytes they hold together, against one
 * budget. One per entry (never module state), so two entries in a process
 * do not share a budget and none escapes it.
 */
export class VisitorWebSockets {
  readonly open = new Set<TrackedWebSocket>();
  readonly maxEntryBytes: number;
  readonly fairShareBytes: number;
  readonly maxAheadBytes: number;
  #unsentBytes = 0;

  constructor(limits: { maxEntryBytes?: number; fairShareBytes?: number; maxAheadBytes?: number } = {}) {
    this.maxEntryBytes = limits.maxEntryBytes ?? MAX_ENTRY_UNSENT_BYTES;
    this.fairShareBytes = limits.fairShareBytes ?? FAIR_SHARE_BYTES;
    this.maxAheadBytes = limits.maxAheadBytes ?? MAX_AHEAD_BYTES;
  }

  /** Unsent visitor bytes held by every socket of this entry. */
  get unsentBytes(): number {
    return this.#unsentBytes;
  }

  /** Whether a message of `size` bytes from a socket already holding `ownBytes` unsent must close it. */
  refusal(ownBytes: number, size: number): Refusal | undefined {
    if (ownBytes > this.maxAheadBytes) return { code: 1008, reason: "Sending faster than the target reads" };
    if (this.#unsentBytes + size > this.maxEntryBytes && ownBytes > this.fairShareBytes) {
      return { code: 1013, reason: "Tunnel entry busy: try again later" };
    }
    return undefined;
  }

  /** Counts bytes a socket holds toward the entry's total; negative to release them. */
  hold(bytes: number): void {
    this.#unsentBytes += bytes;
  }
}
