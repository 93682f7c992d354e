import { MAX_PAYLOAD_BYTES } from "./constants.ts";
import { ProtocolError } from "./protocol-error.ts";
import { latin1 } from "./bytes.ts";

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
  /**
   * A TCP connection, not an HTTP request: the client connects to its
   * target, answers 200 once connected, and the stream's bodies are the
   * connection's bytes each way (End is a half-close). Its headers name the
   * visitor (`visitor: ADDR:PORT`) and where it arrived (`arrived: ADDR:PORT`).
   */
  tcp?: boolean;
}

/** What a ResponseHead frame carries. */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Header values (RFC 9110 field-value): visible ASCII, obs-text, space and tab.
// Anything else is refused: no control character (CR, LF, NUL, DEL…), nothing past U+00FF.
const BAD_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Largest head a visitor may send (request target plus `name: value` lines),
 * as Bun's own server limit: bigger heads get 431 at the entry. Whatever
 * passes it encodes well inside one frame.
 */
export const MAX_HEAD_BYTES = 16 * 1024;

/** Bytes of a head as a visitor or target sent it: the target plus one `name: value\r\n` line per header. */
export function headBytes(head: { target?: string; headers: HeaderList }): number {
  let n = head.target?.length ?? 0;
  for (const [name, value] of head.headers) n += name.length + value.length + 4;
  return n;
}

function headerProblem(headers: HeaderList): string | undefined {
  for (const [name, value] of headers) {
    if (!TOKEN.test(name)) return `header name ${JSON.stringify(name.slice(0, 40))} is not a token`;
    const bad = value.match(BAD_VALUE_CHAR);
    if (bad) {
      const code = bad[0].charCodeAt(0);
      return `header ${name} has a character the tunnel does not carry (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
    }
  }
  return undefined;
}

/**
 * Why a request head cannot cross the tunnel, or undefined when it can: the
 * one rule both the entry (which answers 400) and the client (which decodes)
 * apply, so a head the entry sends is never one the client refuses.
 */
export function requestHeadProblem(head: RequestHead): string | undefined {
  if (!TOKEN.test(head.method)) return "the method is not a token";
  if (!head.target.startsWith("/") || /[\s\0]/.test(head.target) || BAD_VALUE_CHAR.test(head.target)) {
    return "the request target is not a path";
  }
  return headerProblem(head.headers);
}

/** Why a response head cannot cross the tunnel, or undefined when it can. */
export function responseHeadProblem(head: ResponseHead): string | undefined {
  if (!Number.isInteger(head.status) || (head.status < 200 && head.status !== 101) || head.status > 599) return "bad status";
  return headerProblem(head.headers);
}

/**
 * The headers of a target's answer made fit to cross: a value a runtime
 * decoded as UTF-8 (characters past U+00FF) goes back to its bytes, one
 * Latin-1 character each, so the visitor receives exactly the target's
 * bytes; a header whose name is not a token or whose value holds a control
 * character is left out and named in `dropped`.
 */
export function carriableHeaders(headers: HeaderList): { headers: HeaderList; dropped: string[] } {
  let out: HeaderList | undefined;
  const dropped: string[] = [];
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    let fixed = value;
    if (BAD_VALUE_CHAR.test(value) && /[\u0100-\uffff]/.test(value)) fixed = latin1(encoder.encode(value));
    const ok = TOKEN.test(name) && !BAD_VALUE_CHAR.test(fixed);
    if (ok && fixed === value) {
      out?.push(headers[i]);
      continue;
    }
    out ??= headers.slice(0, i);
    if (ok) out.push([name, fixed]);
    else dropped.push(name);
  }
  return { headers: out ?? headers, dropped };
}

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

/** A header list's shape: pairs of strings (their content is the head rule's to judge). */
function headerPairs(value: unknown, what: string): HeaderList {
  if (!Array.isArray(value)) throw new ProtocolError(`Malformed ${what}: headers not a list`);
  for (const pair of value) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || typeof pair[1] !== "string") {
      throw new ProtocolError(`Malformed ${what}: bad header ${JSON.stringify(pair).slice(0, 80)}`);
    }
  }
  return value as HeaderList;
}

/** Decodes and validates a RequestHead payload. */
export function decodeRequestHead(payload: Uint8Array): RequestHead {
  const o = parseJson(payload, "request head");
  if (typeof o.method !== "string" || typeof o.target !== "string") {
    throw new ProtocolError("Malformed request head: needs method and target");
  }
  if (o.websocket !== undefined && typeof o.websocket !== "boolean") throw new ProtocolError("Malformed request head: bad websocket flag");
  if (o.tcp !== undefined && typeof o.tcp !== "boolean") throw new ProtocolError("Malformed request head: bad tcp flag");
  const head: RequestHead = { method: o.method, target: o.target, headers: headerPairs(o.headers, "request head") };
  const problem = requestHeadProblem(head);
  if (problem) throw new ProtocolError(`Malformed request head: ${problem}`);
  if (o.websocket) head.websocket = true;
  if (o.tcp) head.tcp = true;
  return head;
}

/** Decodes and validates a ResponseHead payload. */
export function decodeResponseHead(payload: Uint8Array): ResponseHead {
  const o = parseJson(payload, "response head");
  if (typeof o.status !== "number") throw new ProtocolError("Malformed response head: bad status");
  const head: ResponseHead = { status: o.status, headers: headerPairs(o.headers, "response head") };
  const problem = responseHeadProblem(head);
  if (problem) throw new ProtocolError(`Malformed response head: ${problem}`);
  return head;
}

/** What the client says first on an uplink. */
export interface Hello {
  session: string;
  token: string;
  /** The client's receive window per stream. */
  window: number;
  /** Who may reach the tunnel (a JSON object of rules the entry reads and enforces); absent: everyone. */
  access?: Record<string, unknown>;
  /** A short fingerprint of the client's target: a second client of the session with another target is refused… */
  target?: string;
  /** …unless it says it serves the session alongside the others on purpose. */
  replica?: boolean;
  /** A TCP or TLS tunnel (absent: HTTP). */
  tunnel?: TunnelKind;
}

/** What a TCP or TLS tunnel asks the entry for in its hello. */
export interface TunnelKind {
  /** tcp: a public port of the entry's range; tls: TLS connections routed by their SNI name `<session>.<domain>`. */
  kind: "tcp" | "tls";
  /** tcp: the port asked for (--remote-port); absent: any free one (the session's own when it had one). */
  port?: number;
  /** tcp: no public port; visitors come only through `tunnel2 connect` with the visitor key. */
  private?: boolean;
  /** SHA-256 (hex) of the visitor key a private tunnel's visitors must present. */
  visitorKey?: string;
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
  const hello: Hello = { session: o.session, token: o.token, window: o.window };
  if (o.access !== undefined) {
    if (typeof o.access !== "object" || o.access === null || Array.isArray(o.access)) throw new ProtocolError("Malformed hello: access is not an object");
    hello.access = o.access as Record<string, unknown>;
  }
  if (o.target !== undefined) {
    if (typeof o.target !== "string" || !/^[0-9a-f]{1,64}$/.test(o.target)) throw new ProtocolError("Malformed hello: bad target fingerprint");
    hello.target = o.target;
  }
  if (o.replica !== undefined) {
    if (typeof o.replica !== "boolean") throw new ProtocolError("Malformed hello: bad replica flag");
    hello.replica = o.replica;
  }
  if (o.tunnel !== undefined) hello.tunnel = decodeTunnelKind(o.tunnel);
  return hello;
}

function decodeTunnelKind(value: unknown): TunnelKind {
  const bad = (what: string) => new ProtocolError(`Malformed hello: tunnel ${what}`);
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw bad("is not an object");
  const o = value as Record<string, unknown>;
  if (o.kind !== "tcp" && o.kind !== "tls") throw bad("kind is not tcp or tls");
  const tunnel: TunnelKind = { kind: o.kind };
  if (o.port !== undefined) {
    if (typeof o.port !== "number" || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw bad("port is not 1-65535");
    tunnel.port = o.port;
  }
  if (o.private !== undefined) {
    if (typeof o.private !== "boolean") throw bad("private flag is not a boolean");
    tunnel.private = o.private;
  }
  if (o.visitorKey !== undefined) {
    if (typeof o.visitorKey !== "string" || !/^[0-9a-f]{64}$/.test(o.visitorKey)) throw bad("visitor key is not a SHA-256 in hex");
    tunnel.visitorKey = o.visitorKey;
  }
  if (tunnel.private && !tunnel.visitorKey) throw bad("is private without a visitor key");
  return tunnel;
}

/** Decodes and validates a Welcome payload. */
export function decodeWelcome(payload: Uint8Array): Welcome {
  const o = parseJson(payload, "welcome");
  if (typeof o.url !== "string" || typeof o.uplinkId !== "string" || typeof o.window !== "number") {
    throw new ProtocolError("Malformed welcome: needs url, uplinkId and window");
  }
  return { url: o.url, uplinkId: o.uplinkId, window: o.window };
}
