import { MAX_PAYLOAD_BYTES } from "./constants.ts";
import { ProtocolError } from "./protocol-error.ts";

/** Header list in wire order; repeated names (Set-Cookie) stay separate. */
export type HeaderList = [name: string, value: string][];

/** What a RequestHead frame carries. */
export interface RequestHead {
  method: string;
  /** Path and query exactly as the visitor sent them (origin-form). */
  target: string;
  headers: HeaderList;
  /** The visitor asked for a WebSocket: the client opens one to the target and answers 101 once it is accepted. */
  websocket?: boolean;
}

/** What a ResponseHead frame carries. */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Header values: visible ASCII/obs-text, space and tab; no CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a head as JSON; throws RangeError when it exceeds one frame. */
export function encodeHead(head: RequestHead | ResponseHead): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(head));
  if (bytes.byteLength > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`Head too large: ${bytes.byteLength} bytes`);
  }
  return bytes;
}

function parseJson(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(payload));
  } catch {
    throw new ProtocolError(`Malformed ${what}: not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError(`Malformed ${what}: not an object`);
  }
  return value as Record<string, unknown>;
}

function checkHeaders(value: unknown, what: string): HeaderList {
  if (!Array.isArray(value)) throw new ProtocolError(`Malformed ${what}: headers not a list`);
  for (const pair of value) {
    if (
      !Array.isArray(pair) || pair.length !== 2 ||
      typeof pair[0] !== "string" || typeof pair[1] !== "string" ||
      !TOKEN.test(pair[0]) || !FIELD_VALUE.test(pair[1])
    ) {
      throw new ProtocolError(`Malformed ${what}: bad header ${JSON.stringify(pair).slice(0, 80)}`);
    }
  }
  return value as HeaderList;
}

/** Decodes and validates a RequestHead payload. */
export function decodeRequestHead(payload: Uint8Array): RequestHead {
  const o = parseJson(payload, "request head");
  if (typeof o.method !== "string" || !TOKEN.test(o.method)) {
    throw new ProtocolError("Malformed request head: bad method");
  }
  if (typeof o.target !== "string" || !o.target.startsWith("/") || /[\s\0]/.test(o.target)) {
    throw new ProtocolError("Malformed request head: bad target");
  }
  if (o.websocket !== undefined && typeof o.websocket !== "boolean") throw new ProtocolError("Malformed request head: bad websocket flag");
  const head: RequestHead = { method: o.method, target: o.target, headers: checkHeaders(o.headers, "request head") };
  if (o.websocket) head.websocket = true;
  return head;
}

/** Decodes and validates a ResponseHead payload. */
export function decodeResponseHead(payload: Uint8Array): ResponseHead {
  const o = parseJson(payload, "response head");
  if (typeof o.status !== "number" || !Number.isInteger(o.status) || (o.status < 200 && o.status !== 101) || o.status > 599) {
    throw new ProtocolError("Malformed response head: bad status");
  }
  return { status: o.status, headers: checkHeaders(o.headers, "response head") };
}

/** What the client says first on an uplink. */
export interface Hello {
  session: string;
  token: string;
  /** The client's receive window per stream. */
  window: number;
}

/** The entry's answer to an accepted Hello. */
export interface Welcome {
  /** Public URL of the session. */
  url: string;
  uplinkId: string;
  /** The entry's receive window per stream. */
  window: number;
}

/** Encodes a Hello or Welcome. */
export function encodeJson(value: Hello | Welcome): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Decodes and validates a Hello payload. */
export function decodeHello(payload: Uint8Array): Hello {
  const o = parseJson(payload, "hello");
  if (typeof o.session !== "string" || typeof o.token !== "string" || typeof o.window !== "number") {
    throw new ProtocolError("Malformed hello: needs session, token and window");
  }
  return { session: o.session, token: o.token, window: o.window };
}

/** Decodes and validates a Welcome payload. */
export function decodeWelcome(payload: Uint8Array): Welcome {
  const o = parseJson(payload, "welcome");
  if (typeof o.url !== "string" || typeof o.uplinkId !== "string" || typeof o.window !== "number") {
    throw new ProtocolError("Malformed welcome: needs url, uplinkId and window");
  }
  return { url: o.url, uplinkId: o.uplinkId, window: o.window };
}
