import { describe, expect, test } from "bun:test";
import { acceptKey } from "../protocol/rfc6455.ts";
import { confirmsKey, handshakeRequest, MAX_HANDSHAKE_HEAD_BYTES, readHandshakeAnswer } from "./web-socket-handshake.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("WebSocket handshake", () => {
  test("the request: its own Host, key and version, the given headers but not their hop-by-hop ones", () => {
    const { key, bytes: request } = handshakeRequest(new URL("ws://127.0.0.1:9/chat?room=1"), [["Sec-WebSocket-Protocol", "chat"], ["host", "evil"], ["Upgrade", "x"], ["cookie", "a=é"]]);
    const text = String.fromCharCode(...request);
    expect(text).toBe(
      `GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\ncookie: a=é\r\n\r\n`,
    );
    expect(request.at(-5)).toBe(0xe9); // Latin-1: one byte for é
    expect(() => handshakeRequest(new URL("ws://h/"), [["x", "a\r\nInjected: 1"]])).toThrow("line break");
  });

  test("the answer: whole or not yet, its rest kept, the key confirmed, a bad head refused", async () => {
    expect(readHandshakeAnswer(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgr"))).toBeUndefined();
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const answer = readHandshakeAnswer(new Uint8Array([...bytes(`HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`), 0x81, 0]))!;
    expect([answer.status, [...answer.rest]]).toEqual([101, [0x81, 0]]);
    expect([await confirmsKey(answer.headers, key), await confirmsKey(answer.headers, "other")]).toEqual([true, false]);
    expect(() => readHandshakeAnswer(bytes("HTTP/1.1 101 OK\r\nbad line\r\n\r\n"))).toThrow("not \"name: value\"");
    expect(() => readHandshakeAnswer(new Uint8Array(MAX_HANDSHAKE_HEAD_BYTES + 1))).toThrow("too large");
  });
});
