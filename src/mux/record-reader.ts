import { RecordParser, type WebSocketRecord } from "../protocol/websocket-records.ts";
import type { MuxStream } from "./mux-stream.ts";

/**
 * Reads the WebSocket records of a stream in order, awaiting `handle` for
 * each (so a slow receiver holds the stream's credit), until the stream
 * ends. Throws what reading threw (a reset) or a record that makes no sense.
 */
export async function readRecords(stream: MuxStream, handle: (record: WebSocketRecord) => void | Promise<void>): Promise<void> {
  const parser = new RecordParser();
  const reader = stream.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const record of parser.push(value)) {
        const pending = handle(record);
        if (pending) await pending;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
