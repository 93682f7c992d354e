import type { HeaderList } from "../protocol/head.ts";

const encoder = new TextEncoder();
const NOT_ASCII = /[\u0080-\uffff]/;

/**
 * The bytes of a request head: request line, `host`, the headers as given,
 * and `transfer-encoding: chunked` when a body of unknown length follows.
 * Heads reach the client validated (tokens, no CR/LF, no character past
 * U+00FF), so each character is one byte.
 */
export function requestHeadBytes(method: string, path: string, host: string, headers: HeaderList, chunked: boolean): Uint8Array {
  let text = `${method} ${path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (name.length === 4 && name.toLowerCase() === "host") continue;
    text += `${name}: ${value}\r\n`;
  }
  text += chunked ? "transfer-encoding: chunked\r\n\r\n" : "\r\n";
  if (!NOT_ASCII.test(text)) return encoder.encode(text);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** One chunk of a chunked body: size line, bytes, CRLF, in one buffer. */
export function chunkBytes(data: Uint8Array): Uint8Array {
  const size = encoder.encode(`${data.byteLength.toString(16)}\r\n`);
  const out = new Uint8Array(size.length + data.byteLength + 2);
  out.set(size);
  out.set(data, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The last chunk of a chunked body, with no trailers. */
export const LAST_CHUNK = encoder.encode("0\r\n\r\n");
