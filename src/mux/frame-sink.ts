import type { FrameSocket } from "./frame-socket.ts";
import { FrameWriter } from "./frame-writer.ts";

/** What the mux needs from the writer of an uplink. */
export interface FrameSink {
  /** Queues a control frame without waiting. */
  send(frame: Uint8Array<ArrayBuffer>): void;
  /** Queues a data frame, waiting only while the queue is full. */
  sendData(frame: Uint8Array<ArrayBuffer>): Promise<void>;
  /** Stops the writer; waiting producers fail. */
  abort(reason: Error): void;
  /** Bytes waiting to be sent. */
  readonly queuedBytes: number;
  /** How long the writer has been waiting for the socket to drain, in ms (0 when it is not). */
  readonly stalledMs: number;
  /** Whether every frame queued so far has gone to the socket. */
  readonly idle: boolean;
  /** Frames and messages sent so far. */
  readonly frames: number;
  readonly messages: number;
}

/** Makes the writer of a new uplink. */
export type FrameSinkFactory = (
  socket: FrameSocket,
  onError: (err: Error) => void,
  onWait?: (ms: number) => void,
) => FrameSink;

let factory: FrameSinkFactory = (socket, onError, onWait) => new FrameWriter(socket, onError, { onWait });

/** The writer every new uplink gets: the one-WritableStream {@linkcode FrameWriter}. */
export function createFrameSink(socket: FrameSocket, onError: (err: Error) => void, onWait?: (ms: number) => void): FrameSink {
  return factory(socket, onError, onWait);
}

/**
 * Replaces the writer of uplinks created from now on. Only the benchmarks use
 * this, to measure a lock-and-flush writer against the real one.
 */
export function setFrameSinkFactory(next: FrameSinkFactory): void {
  factory = next;
}
