import { ResetCode } from "../protocol/constants.ts";
import { decodeClose, encodeClose, encodeRecord, RecordKind } from "../protocol/websocket-records.ts";
import type { MuxStream } from "../mux/mux-stream.ts";
import { readRecords } from "../mux/record-reader.ts";
import { StreamResetError } from "../mux/stream-reset-error.ts";
import type { FarWebSocket, FarWebSocketEvents } from "./websocket-bridge.ts";

/**
 * A visitor's WebSocket as records on its stream to the session's client
 * (src/protocol/SPEC.md): messages and the close become records, End
 * follows the close, and a reset stream is a lost target.
 */
export class StreamWebSocket implements FarWebSocket {
  #stream: MuxStream;
  /** Sends to the stream, kept in order. */
  #sending: Promise<void> = Promise.resolve();
  #pendingSends = 0;

  constructor(stream: MuxStream) {
    this.#stream = stream;
  }

  start(events: FarWebSocketEvents): void {
    if (this.#stream.resetError) return events.onClose(1011, "The tunnel lost the target");
    this.#stream.onReset = (err) => events.onClose(1011, closeReason(err));
    this.#pump(events).catch(() => {});
  }

  send(text: boolean, data: Uint8Array): void | Promise<void> {
    return this.#toStream(encodeRecord(text ? RecordKind.Text : RecordKind.Binary, data));
  }

  /** The last record toward the client, a close, then End once everything before it is sent. */
  close(code: number, reason: string): void {
    this.#toStream(encodeClose(code, reason))?.catch(() => {});
    this.#sending = this.#sending.then(() => this.#stream.sendEnd());
  }

  destroy(reason: string): void {
    this.#stream.reset(ResetCode.Cancel, reason);
  }

  #toStream(record: Uint8Array<ArrayBuffer>): void | Promise<void> {
    // Nothing waiting and room to send: at once, without a promise per message.
    if (this.#pendingSends === 0 && this.#stream.trySendBytes(record)) return;
    this.#pendingSends++;
    const sent = this.#sending
      .then(() => this.#stream.sendBytes(record))
      .catch(() => {}) // a reset stream closes the visitor through onReset
      .finally(() => this.#pendingSends--);
    this.#sending = sent;
    return sent;
  }

  /** Client → visitor: records to messages, each waiting for the visitor's socket to drain. */
  async #pump(events: FarWebSocketEvents): Promise<void> {
    try {
      await readRecords(this.#stream, (record) => {
        if (record.kind !== RecordKind.Close) return events.onMessage(record.kind === RecordKind.Text, record.payload);
        const { code, reason } = decodeClose(record.payload);
        events.onClose(code, reason);
      });
      // The client's side ended: with a close record (handled) or without one.
      events.onClose(1000, "");
    } catch (err) {
      if (err instanceof StreamResetError) events.onClose(1011, closeReason(err));
      else {
        // A record that makes no sense.
        this.#stream.reset(ResetCode.ProtocolError, (err as Error).message);
        events.onClose(1011, "The tunnel could not carry this WebSocket");
      }
    }
  }
}

/** A short close reason for a stream that ended with an error. */
function closeReason(err: StreamResetError): string {
  return err.message.includes("uplink") ? "Tunnel uplink lost" : `Tunnel stream ended: ${err.message}`.slice(0, 120);
}
