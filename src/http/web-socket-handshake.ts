import type { HeaderList } from "../protocol/head.ts";
import { latin1 } from "../protocol/bytes.ts";
import { acceptKey, indexOfCrlfCrlf } from "../protocol/rfc6455.ts";
import { parseResponseHead } from "./response-parser.ts";

/** Largest handshake answer head read. */
export const MAX_HANDSHAKE_HEAD_BYTES = 16 * 1024;

/** Headers that belong to one handshake and are made anew for each. */
const OWN_HEADERS = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "content-length",
]);

/**
 * The opening handshake of a WebSocket client (RFC 6455 §4.1) for `url`
 * with `headers` added, as bytes (Latin-1: one byte per character of a
 * header value, as it was received), and the key its answer must confirm.
 */
export function handshakeRequest(url: URL, headers: HeaderList): { key: string; bytes: Uint8Array } {
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  const lines = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  for (const [name, value] of headers) {
    if (OWN_HEADERS.has(name.toLowerCase())) continue;
    if (/[\r\n]/.test(name + value)) throw new Error(`Header ${name} holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  const text = `${lines.join("\r\n")}\r\n\r\n`;
  return { key, bytes: Uint8Array.from(text, (c) => c.charCodeAt(0)) };
}

/**
 * The server's answer head at the start of `buffer`, and the bytes after it;
 * undefined until the head is whole. Throws when it is malformed or larger
 * than MAX_HANDSHAKE_HEAD_BYTES.
 */
export function readHandshakeAnswer<B extends ArrayBufferLike>(buffer: Uint8Array<B>): { status: number; headers: HeaderList; rest: Uint8Array<B> } | undefined {
  const end = indexOfCrlfCrlf(buffer.subarray(0, MAX_HANDSHAKE_HEAD_BYTES + 4));
  if (end === -1) {
    if (buffer.byteLength > MAX_HANDSHAKE_HEAD_BYTES) throw new Error("WebSocket handshake answer too large");
    return undefined;
  }
  const { status, headers } = parseResponseHead(latin1(buffer.subarray(0, end)));
  return { status, headers, rest: buffer.subarray(end + 4) };
}

/** Whether a 101 answer confirms the handshake's key. */
export async function confirmsKey(headers: HeaderList, key: string): Promise<boolean> {
  return headers.find(([name]) => name === "sec-websocket-accept")?.[1] === await acceptKey(key);
}
