/**
 * End to end: the public edge under hostile input (issue 10) — log escaping,
 * bounded /metrics for unknown sessions, bounded /api/live readers.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { FrameKind } from "../src/protocol/constants.ts";
import { encodeFrame } from "../src/protocol/frame.ts";
import { encodeJson } from "../src/protocol/head.ts";
import { startEntry, stopAll } from "./helpers/processes.ts";
import { eventually } from "./helpers/wait.ts";

afterEach(() => stopAll());

describe("entry log (Bun)", () => {
  test("a hello whose session name carries terminal escapes is logged escaped", async () => {
    const entry = await startEntry("bun");
    const ws = new WebSocket(`ws://127.0.0.1:${entry.port}/_tunnel/connect`);
    const closed = new Promise<number>((resolve) => (ws.onclose = (e) => resolve(e.code)));
    const evil = "x\x1b[2J\x1b]0;owned\x07\r\nFAKE INFO line\x9b31m";
    ws.onopen = () => ws.send(encodeFrame(FrameKind.Hello, 0, 0, encodeJson({ session: evil, token: "t", window: 262144 })));
    expect(await closed).toBe(4001);
    const line = await eventually(() => entry.output().split("\n").find((l) => l.includes("uplink refused")));
    // deno-lint-ignore no-control-regex
    expect(entry.output()).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/); // only the lines' own \n remain
    expect(line).toContain("\\u001b[2J\\u001b]0;owned\\u0007\\r\\nFAKE INFO line\\u009b31m");
  });
});
