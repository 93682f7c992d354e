import { describe, expect, test } from "bun:test";
import { ProtocolError } from "../protocol/protocol-error.ts";
import { StreamState, transition } from "./stream-state.ts";

describe("transition()", () => {
  test("half-closes each way, then closes", () => {
    expect(transition(StreamState.Open, "send-end")).toBe(StreamState.LocalClosed);
    expect(transition(StreamState.Open, "recv-end")).toBe(StreamState.RemoteClosed);
    expect(transition(StreamState.LocalClosed, "recv-data")).toBe(StreamState.LocalClosed);
    expect(transition(StreamState.LocalClosed, "recv-end")).toBe(StreamState.Closed);
    expect(transition(StreamState.RemoteClosed, "send-data")).toBe(StreamState.RemoteClosed);
    expect(transition(StreamState.RemoteClosed, "send-end")).toBe(StreamState.Closed);
  });

  test("reset wins from any state", () => {
    for (const state of Object.values(StreamState)) expect(transition(state, "reset")).toBe(StreamState.Reset);
  });

  test("peer frames after its End are protocol errors", () => {
    expect(() => transition(StreamState.RemoteClosed, "recv-data")).toThrow(ProtocolError);
    expect(() => transition(StreamState.RemoteClosed, "recv-end")).toThrow(ProtocolError);
    expect(() => transition(StreamState.Closed, "recv-data")).toThrow(ProtocolError);
  });

  test("local sends after our End are bugs, not protocol errors", () => {
    expect(() => transition(StreamState.LocalClosed, "send-data")).toThrow(Error);
    expect(() => transition(StreamState.LocalClosed, "send-data")).not.toThrow(ProtocolError);
  });
});
