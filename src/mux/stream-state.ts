import { ProtocolError } from "../protocol/protocol-error.ts";

/**
 * Lifecycle of one multiplexed stream. Each side may half-close (End) its own
 * direction; either side may reset. A stream leaves the table once Closed or
 * Reset.
 */
export const StreamState = {
  Open: "open",
  /** We sent End: we send no more body, the peer still may. */
  LocalClosed: "local-closed",
  /** The peer sent End: it sends no more body, we still may. */
  RemoteClosed: "remote-closed",
  Closed: "closed",
  Reset: "reset",
} as const;
export type StreamState = typeof StreamState[keyof typeof StreamState];

export type StreamEvent = "send-data" | "send-end" | "recv-data" | "recv-end" | "reset";

/**
 * The one transition function. A peer event that the state forbids throws
 * {@linkcode ProtocolError}; a local one throws a plain Error (a bug here).
 */
export function transition(state: StreamState, event: StreamEvent): StreamState {
  if (event === "reset") return StreamState.Reset;
  switch (state) {
    case StreamState.Open:
      if (event === "send-end") return StreamState.LocalClosed;
      if (event === "recv-end") return StreamState.RemoteClosed;
      return state;
    case StreamState.LocalClosed:
      if (event === "recv-end") return StreamState.Closed;
      if (event === "recv-data") return state;
      break;
    case StreamState.RemoteClosed:
      if (event === "send-end") return StreamState.Closed;
      if (event === "send-data") return state;
      break;
  }
  if (event.startsWith("recv")) {
    throw new ProtocolError(`Unexpected ${event} on a ${state} stream`);
  }
  throw new Error(`Cannot ${event} on a ${state} stream`);
}
