import { describe, expect, test } from "bun:test";
import { Opcode, ServerFrameReader } from "./rfc6455.ts";

/** An unmasked frame as a server sends it. */
function serverFrame(opcode: number, payload: Uint8Array | string, fin = true): Uint8Array {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const head = bytes.byteLength < 126 ? [bytes.byteLength] : [126, bytes.byteLength >> 8, bytes.byteLength & 0xff];
  return new Uint8Array([(fin ? 0x80 : 0) | opcode, ...head, ...bytes]);
}

describe("ServerFrameReader", () => {
  test("messages whole, fragments joined, pings passed up, pongs dropped, then the close", () => {
    const reader = new ServerFrameReader(1024);
    const all = [
      serverFrame(Opcode.Text, "hello"),
      serverFrame(Opcode.Binary, new Uint8Array([1, 2]), false),
      serverFrame(Opcode.Ping, "p"),
      serverFrame(Opcode.Continuation, new Uint8Array([3])),
      serverFrame(Opcode.Pong, ""),
      serverFrame(Opcode.Close, new Uint8Array([0x0f, 0xa0, ...new TextEncoder().encode("bye")])),
      serverFrame(Opcode.Text, "after the close"),
    ];
    const bytes = new Uint8Array(all.flatMap((f) => [...f]));
    const events = [];
    // One byte at a time: every frame arrives split.
    for (const byte of bytes) {
      reader.push(new Uint8Array([byte]));
      for (let e = reader.next(); e; e = reader.next()) events.push(e);
    }
    expect(events).toEqual([
      { kind: "message", text: true, data: new TextEncoder().encode("hello") },
      { kind: "ping", payload: new TextEncoder().encode("p") },
      { kind: "message", text: false, data: new Uint8Array([1, 2, 3]) },
      { kind: "close", code: 4000, reason: "bye" },
    ]);
  });

  test("masked frames, stray continuations, interleaved messages and oversize ones fail the connection", () => {
    const failing = (...frames: Uint8Array[]) => {
      const reader = new ServerFrameReader(8);
      for (const f of frames) reader.push(f);
      let e;
      while ((e = reader.next()) && e.kind !== "fail");
      return e;
    };
    const masked = serverFrame(Opcode.Text, "x");
    masked[1] |= 0x80;
    expect(failing(new Uint8Array([...masked, 0, 0, 0, 0]))).toEqual({ kind: "fail", code: 1002, reason: "Server frames must not be masked" });
    expect(failing(serverFrame(Opcode.Continuation, "x"))?.code).toBe(1002);
    expect(failing(serverFrame(Opcode.Text, "a", false), serverFrame(Opcode.Text, "b"))?.code).toBe(1002);
    expect(failing(serverFrame(3, "x"))?.code).toBe(1002);
    expect(failing(serverFrame(Opcode.Binary, new Uint8Array(9)))).toEqual({ kind: "fail", code: 1009, reason: "Message too large" });
    // Fragments each under the bound, together over it.
    expect(failing(serverFrame(Opcode.Binary, new Uint8Array(5), false), serverFrame(Opcode.Continuation, new Uint8Array(5)))?.code).toBe(1009);
  });
});
