import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Flag, FrameKind } from "../protocol/constants.ts";
import { encodeFrame } from "../protocol/frame.ts";
import { encodeHead } from "../protocol/head.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { memorySocketPair } from "./_memory-socket-pair.ts";
import { Mux } from "./mux.ts";

const kinds = Object.values(FrameKind);

/** A plausible frame: right shape, random kind, flags, stream and payload. */
const plausibleFrame = fc.record({
  kind: fc.constantFrom(...kinds),
  flags: fc.constantFrom(0, Flag.EndStream, Flag.Ack),
  streamId: fc.integer({ min: 0, max: 5 }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 70_000 }).map((b) => b.subarray(0, 65536)),
    fc.constant(encodeHead({ status: 200, headers: [] })),
    fc.constant(encodeHead({ method: "GET", target: "/", headers: [] })),
    fc.constant(new Uint8Array(4)),
    fc.constant(new Uint8Array(8)),
  ),
}).map(({ kind, flags, streamId, payload }) => {
  const bytes = new Uint8Array(12 + payload.byteLength);
  bytes.set(encodeFrame(kind, 0, 0).subarray(0, 2));
  bytes[3] = flags;
  new DataView(bytes.buffer).setUint32(4, streamId);
  new DataView(bytes.buffer).setUint32(8, payload.byteLength);
  bytes.set(payload, 12);
  return bytes;
});

describe("a live mux under random frames", () => {
  for (const role of ["entry", "client"] as const) {
    test(`${role}: never throws, ends with a ProtocolError at most`, async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (event: unknown) => unhandled.push(event);
      process.on("unhandledRejection", onUnhandled);
      try {
        await fc.assert(fc.asyncProperty(fc.array(plausibleFrame, { maxLength: 30 }), async (frames) => {
          const [a, b] = memorySocketPair();
          let closedWith: Error | undefined;
          const mux = new Mux({
            role, socket: a, localWindow: 262144, peerWindow: 262144,
            onStream: (stream) => {
              stream.sendHead(FrameKind.ResponseHead, { status: 200, headers: [] }, false);
              stream.sendBody(stream.body);
            },
            onClose: (err) => (closedWith = err),
          });
          b.onMessage = () => {};
          if (role === "entry") {
            for (let i = 0; i < 3; i++) mux.open({ method: "POST", target: "/", headers: [] }, false).responseHead.catch(() => {});
          }
          // One frame per message, then all of them batched into one message.
          for (const frame of frames.slice(0, frames.length >> 1)) mux.receive(frame);
          const rest = frames.slice(frames.length >> 1);
          const batch = new Uint8Array(rest.reduce((n, f) => n + f.byteLength, 0));
          rest.reduce((offset, f) => (batch.set(f, offset), offset + f.byteLength), 0);
          if (batch.byteLength > 0) mux.receive(batch);
          await new Promise((r) => setTimeout(r, 1));
          if (closedWith !== undefined) expect(closedWith).toBeInstanceOf(ProtocolError);
          mux.close();
        }), { numRuns: 300 });
      } finally {
        process.off("unhandledRejection", onUnhandled);
      }
      expect(unhandled).toEqual([]);
    }, 60_000);
  }
});
