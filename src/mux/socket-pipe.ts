import { ResetCode } from "../protocol/constants.ts";
import type { MuxStream } from "./mux-stream.ts";

/**
 * A byte connection as the pipe drives it (a TCP socket, or a WebSocket
 * carrying one connection): methods out; its owner calls the pipe's
 * {@linkcode SocketPipe} methods as events come in.
 */
export interface ByteSocket {
  /** Sends bytes (all of them, queued if need be); false once the caller should wait for `drained`. */
  write(bytes: Uint8Array): boolean;
  /** Half-closes: the bytes written go out, then a FIN. */
  end(): void;
  /** Stops reading (the sender feels backpressure) until `resume`. */
  pause(): void;
  resume(): void;
  /** Aborts the connection (a TCP reset where the runtime can send one). */
  reset(): void;
}

/** What the socket's owner tells the pipe. */
export interface SocketPipe {
  /** Bytes the socket read. */
  data(bytes: Uint8Array): void;
  /** The socket's peer half-closed (FIN). */
  ended(): void;
  /** What the socket had queued went out. */
  drained(): void;
  /** The connection is gone: `error` unless it ended cleanly. */
  closed(error?: Error): void;
}

/** Counts of a piped connection's bytes. */
export interface PipeCounts {
  /** Bytes the socket read (sent into the stream). */
  read: number;
  /** Bytes written to the socket (from the stream). */
  written: number;
}

/**
 * Carries one byte connection over a stream, both ways: the socket's bytes
 * go out as DATA within the stream's window (the socket is paused while the
 * window or the uplink's writer is full), and the stream's body is written
 * to the socket, which is read only as fast as the socket drains (so the
 * peer's window fills and it waits). A FIN either way is an End, an End is
 * a FIN; a reset either way aborts the other side. `done` settles once
 * both directions are over.
 */
export function pipeSocket(
  stream: MuxStream,
  socket: ByteSocket,
  onBytes?: (direction: "read" | "written", bytes: number) => void,
): SocketPipe & { counts: PipeCounts; done: Promise<void> } {
  const counts: PipeCounts = { read: 0, written: 0 };
  let sending: Promise<void> | undefined;
  let ended = false;
  let inboundDone = false;
  let waitDrain: (() => void) | undefined;
  const finished = Promise.withResolvers<void>();
  let socketGone = false;
  const settle = () => {
    if ((inboundDone && ended) || socketGone || stream.resetError) finished.resolve();
  };

  stream.onReset = () => {
    socket.reset();
    waitDrain?.();
    finished.resolve();
  };

  // Stream → socket.
  (async () => {
    const reader = stream.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        counts.written += value.byteLength;
        onBytes?.("written", value.byteLength);
        if (!socket.write(value)) await new Promise<void>((resolve) => waitDrain = resolve);
        waitDrain = undefined;
        if (socketGone) return;
      }
      socket.end();
    } catch {
      // A reset: stream.onReset has aborted the socket.
    } finally {
      reader.releaseLock();
      inboundDone = true;
      settle();
    }
  })();

  const send = (bytes: Uint8Array) => {
    if (stream.resetError) return;
    counts.read += bytes.byteLength;
    onBytes?.("read", bytes.byteLength);
    if (sending === undefined && stream.trySendBytes(bytes)) return;
    socket.pause();
    const previous = sending ?? Promise.resolve();
    const mine: Promise<void> = previous.then(() => stream.sendBytes(bytes)).then(() => {
      if (sending === mine) {
        sending = undefined;
        socket.resume();
      }
    });
    mine.catch(() => {});
    sending = mine;
  };

  return {
    counts,
    done: finished.promise,
    data: send,
    ended() {
      if (ended) return;
      ended = true;
      const end = () => {
        stream.sendEnd();
        settle();
      };
      if (sending) sending.then(end, () => {});
      else end();
    },
    drained() {
      waitDrain?.();
    },
    closed(error?: Error) {
      socketGone = true;
      waitDrain?.();
      // Gone before both directions ended (a reset, or closed with the peer still sending): the stream is reset.
      if (error || !ended || !inboundDone) {
        stream.reset(ResetCode.Cancel, error ? `Connection reset (${error.message})` : "Connection closed");
      }
      finished.resolve();
    },
  };
}
