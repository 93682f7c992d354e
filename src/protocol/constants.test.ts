import { describe, expect, test } from "bun:test";
import * as C from "./constants.ts";

// Every number here is on the wire: changing one breaks peers of other versions.
describe("constants", () => {
  test("pin the wire numbers", () => {
    expect(C.VERSION).toBe(1);
    expect(C.HEADER_BYTES).toBe(12);
    expect(C.MAX_PAYLOAD_BYTES).toBe(65536);
    expect(C.MAX_FRAME_BYTES).toBe(65548);
    expect(C.MAX_MESSAGE_BYTES).toBe(262144);
    expect(C.BATCH_FLUSH_BYTES).toBe(65536);
    expect(C.DEFAULT_WINDOW_BYTES).toBe(262144);
    expect(C.FrameKind).toEqual({
      Hello: 1, Welcome: 2, RequestHead: 3, ResponseHead: 4, Data: 5,
      End: 6, Reset: 7, WindowUpdate: 8, Ping: 9, GoAway: 10,
    });
    expect(C.Flag).toEqual({ EndStream: 1, Ack: 2 });
    expect(C.ResetCode).toEqual({
      Cancel: 1, TargetUnreachable: 2, TargetError: 3, ProtocolError: 4, Timeout: 5, TooLarge: 6,
    });
    expect(C.GoAwayCode).toEqual({ Normal: 0, ProtocolError: 1, Unauthorized: 2, Draining: 3, InternalError: 4 });
    expect(C.CloseCode).toEqual({ Normal: 1000, GoingAway: 1001, ProtocolError: 1002, Unauthorized: 4001, BadFrame: 4002, NotReading: 4003, TooManyUplinks: 4004, AccessRefused: 4005, SessionTaken: 4006, TunnelRefused: 4007 });
    expect(C.MAX_HELLO_BYTES).toBe(32768);
    expect(C.CONNECT_PATH).toBe("/_tunnel/connect");
  });

  test("session names are DNS labels", () => {
    expect(C.SESSION_NAME_PATTERN.test("my-app-1")).toBe(true);
    expect(C.SESSION_NAME_PATTERN.test("a".repeat(63))).toBe(true);
    expect(C.SESSION_NAME_PATTERN.test("a".repeat(64))).toBe(false);
    expect(C.SESSION_NAME_PATTERN.test("My")).toBe(false);
    expect(C.SESSION_NAME_PATTERN.test("a.b")).toBe(false);
    expect(C.SESSION_NAME_PATTERN.test("")).toBe(false);
  });
});
