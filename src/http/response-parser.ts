import type { HeaderList } from "../protocol/head.ts";
import { latin1 } from "../protocol/bytes.ts";

/** Largest response head read from a target (the tunnel itself carries 16 KiB). */
export const MAX_TARGET_HEAD_BYTES = 64 * 1024;
/** Most header lines in one response head. */
const MAX_HEADER_LINES = 512;
/** Longest chunk-size line, extensions included. */
const MAX_CHUNK_LINE_BYTES = 4096;

/** How a response's body is delimited (RFC 9112 §6.3). */
export const BodyKind = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const;
export type BodyKind = typeof BodyKind[keyof typeof BodyKind];

/** A final response head as read from the target. */
export interface ParsedHead {
  status: number;
  /** Names lowercase, values as Latin-1 strings (one character per byte), in order. */
  headers: HeaderList;
  body: BodyKind;
  /** The body's length when `body` is Length. */
  length: number;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

/** What the parser reports, in order: one head, body pieces, one end. */
export interface ResponseEvents {
  onHead(head: ParsedHead): void;
  /** A piece of the body; a view into the bytes given to `push`, valid only during the call. */
  onBody(bytes: Uint8Array): void;
  onEnd(): void;
}

/** A target response that breaks HTTP/1.1: the connection is closed, never reused. */
export class MalformedResponse extends Error {
  override name = "MalformedResponse";
}

const State = { Head: 0, Length: 1, ChunkLine: 2, ChunkData: 3, ChunkDataEnd: 4, Trailers: 5, UntilClose: 6, Done: 7 } as const;
type State = typeof State[keyof typeof State];

const CR = 13;
const LF = 10;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9][0-9]{2})(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[^\r\n]*)?$/;
// The "latin1" label means windows-1252 (bytes 0x80-0x9F become other characters): used
// for speed, and replaced by a true one-character-per-byte reading when it changed anything.
const decoder = new TextDecoder("latin1");
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

function byteString(bytes: Uint8Array): string {
  const text = decoder.decode(bytes);
  return BEYOND_LATIN1.test(text) ? latin1(bytes) : text;
}

/**
 * An incremental HTTP/1.1 response reader for one connection: bytes go in
 * with `push` as they arrive, events come out. Skips 1xx interim responses,
 * reads Content-Length, chunked (trailers read and dropped) and
 * close-delimited bodies, and throws {@linkcode MalformedResponse} on
 * anything it cannot frame with certainty. One parser reads one response;
 * `reset` readies it for the next on a kept-alive connection.
 */
export class ResponseParser {
  #events: ResponseEvents;
  #state: State = State.Head;
  #head: Uint8Array | undefined;
  #remaining = 0;
  #headOnly = false;
  #line: Uint8Array | undefined;

  constructor(events: ResponseEvents) {
    this.#events = events;
  }

  /** Readies the parser for a response to a request whose answer has no body when `headOnly` (HEAD). */
  reset(headOnly: boolean): void {
    this.#state = State.Head;
    this.#head = undefined;
    this.#line = undefined;
    this.#headOnly = headOnly;
  }

  /** Whether a whole response has been read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /** Whether the response ends only when the connection does. */
  get untilClose(): boolean {
    return this.#state === State.UntilClose;
  }

  /** Whether any byte of the response has been read. */
  get started(): boolean {
    return this.#state !== State.Head || this.#head !== undefined;
  }

  /** Feeds bytes read from the connection; returns how many were used (the rest belong to no response). */
  push(bytes: Uint8Array): number {
    let at = 0;
    while (at < bytes.length) {
      switch (this.#state) {
        case State.Head:
          at = this.#readHead(bytes, at);
          break;
        case State.Length: {
          const n = Math.min(this.#remaining, bytes.length - at);
          this.#remaining -= n;
          const piece = bytes.subarray(at, at + n);
          at += n;
          if (this.#remaining === 0) this.#state = State.Done;
          this.#events.onBody(piece);
          if (this.#state === State.Done) this.#events.onEnd();
          break;
        }
        case State.ChunkLine:
        case State.Trailers:
        case State.ChunkDataEnd:
          at = this.#readLine(bytes, at);
          break;
        case State.ChunkData: {
          const n = Math.min(this.#remaining, bytes.length - at);
          this.#remaining -= n;
          const piece = bytes.subarray(at, at + n);
          at += n;
          if (this.#remaining === 0) this.#state = State.ChunkDataEnd;
          this.#events.onBody(piece);
          break;
        }
        case State.UntilClose:
          this.#events.onBody(at === 0 ? bytes : bytes.subarray(at));
          return bytes.length;
        case State.Done:
          return at;
      }
    }
    return at;
  }

  /** The connection ended: the end of a close-delimited body, or a cut-off response. */
  close(): void {
    if (this.#state === State.UntilClose) {
      this.#state = State.Done;
      this.#events.onEnd();
    } else if (this.#state !== State.Done) {
      throw new MalformedResponse(this.started ? "Target closed the connection before the response ended" : "Target closed the connection without answering");
    }
  }

  #readHead(bytes: Uint8Array, at: number): number {
    // The head ends at the first CRLFCRLF (a bare LF line end is refused below).
    const start = this.#head?.length ?? 0;
    const joined = this.#head ? joinTwo(this.#head, bytes.subarray(at)) : bytes.subarray(at);
    let end = -1;
    for (let i = joined.indexOf(LF, Math.max(3, start)); i >= 0; i = joined.indexOf(LF, i + 1)) {
      if (joined[i - 1] === CR && joined[i - 2] === LF && joined[i - 3] === CR) {
        end = i + 1;
        break;
      }
    }
    if (end < 0) {
      if (joined.length > MAX_TARGET_HEAD_BYTES) throw new MalformedResponse(`Target response head larger than ${MAX_TARGET_HEAD_BYTES} bytes`);
      this.#head = this.#head ? joined : bytes.slice(at);
      return bytes.length;
    }
    if (end > MAX_TARGET_HEAD_BYTES) throw new MalformedResponse(`Target response head larger than ${MAX_TARGET_HEAD_BYTES} bytes`);
    const used = end - start;
    this.#head = undefined;
    this.#startResponse(byteString(joined.subarray(0, end - 4)));
    return at + used;
  }

  #startResponse(text: string): void {
    const { minor, status: code, headers } = parseResponseHead(text);
    let length: string | undefined;
    let encoding: string | undefined;
    let connection = "";
    for (const [lower, value] of headers) {
      if (lower === "content-length") {
        if (length !== undefined && length !== value) throw new MalformedResponse("Target response with conflicting Content-Length headers");
        length = value;
      } else if (lower === "transfer-encoding") {
        encoding = encoding === undefined ? value : `${encoding}, ${value}`;
      } else if (lower === "connection") {
        connection += `,${value.toLowerCase()}`;
      }
    }
    if (code < 200) {
      // Interim (100 Continue, 103 Early Hints): not passed on; the final head follows.
      if (code === 101) throw new MalformedResponse("Target switched protocols on a request that asked for no upgrade");
      return;
    }
    let keepAlive = minor === "1" ? !/(^|,)\s*close\s*(,|$)/.test(connection) : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
    let body: BodyKind;
    let size = 0;
    if (this.#headOnly || code === 204 || code === 304) {
      body = BodyKind.None;
    } else if (encoding !== undefined) {
      // Transfer-Encoding wins over Content-Length, and such a connection is not reused (RFC 9112 §6.3);
      // the stale length is not passed on (a runtime would cut the body to it).
      if (length !== undefined) {
        keepAlive = false;
        for (let i = headers.length - 1; i >= 0; i--) if (headers[i][0] === "content-length") headers.splice(i, 1);
      }
      if (/(^|,)\s*chunked\s*$/i.test(encoding)) {
        body = BodyKind.Chunked;
      } else {
        body = BodyKind.UntilClose;
        keepAlive = false;
      }
    } else if (length !== undefined) {
      if (!/^[0-9]{1,15}$/.test(length)) throw new MalformedResponse(`Target response Content-Length is not a number: ${JSON.stringify(length.slice(0, 40))}`);
      size = Number(length);
      body = size === 0 ? BodyKind.None : BodyKind.Length;
    } else {
      body = BodyKind.UntilClose;
      keepAlive = false;
    }
    this.#state = body === BodyKind.None ? State.Done : body === BodyKind.Length ? State.Length : body === BodyKind.Chunked ? State.ChunkLine : State.UntilClose;
    this.#remaining = size;
    this.#events.onHead({ status: code, headers, body, length: size, keepAlive });
    if (this.#state === State.Done) this.#events.onEnd();
  }

  /** Reads one CRLF-ended line of the chunked framing. */
  #readLine(bytes: Uint8Array, at: number): number {
    let end = bytes.indexOf(LF, at);
    const limit = this.#state === State.Trailers ? MAX_TARGET_HEAD_BYTES : MAX_CHUNK_LINE_BYTES;
    if (end < 0) {
      this.#line = this.#line ? joinTwo(this.#line, bytes.subarray(at)) : bytes.slice(at);
      if (this.#line.length > limit) throw new MalformedResponse("Target chunked framing line too long");
      return bytes.length;
    }
    const line = this.#line ? joinTwo(this.#line, bytes.subarray(at, end + 1)) : bytes.subarray(at, end + 1);
    this.#line = undefined;
    end += 1;
    if (line.length > limit) throw new MalformedResponse("Target chunked framing line too long");
    if (line.length < 2 || line[line.length - 2] !== CR) throw new MalformedResponse("Target chunked framing with a bare LF");
    const text = byteString(line.subarray(0, line.length - 2));
    switch (this.#state) {
      case State.ChunkDataEnd:
        if (text !== "") throw new MalformedResponse("Target chunk longer than its size");
        this.#state = State.ChunkLine;
        break;
      case State.ChunkLine: {
        const size = CHUNK_SIZE.exec(text);
        if (!size) throw new MalformedResponse(`Target chunk size is not hexadecimal: ${JSON.stringify(text.slice(0, 40))}`);
        this.#remaining = parseInt(size[1], 16);
        this.#state = this.#remaining === 0 ? State.Trailers : State.ChunkData;
        break;
      }
      case State.Trailers:
        // Trailers are read and dropped: the tunnel carries none.
        if (text === "") {
          this.#state = State.Done;
          this.#events.onEnd();
        }
        break;
    }
    return end;
  }
}

/**
 * The status line and header lines of a response head (the text before its
 * blank line, one character per byte), by HTTP/1.1's rules: names are
 * tokens (returned lowercase), values trimmed, no bare LF, at most
 * MAX_HEADER_LINES lines. Throws {@linkcode MalformedResponse}. The one
 * reading of a response head: targets' answers, WebSocket handshakes.
 */
export function parseResponseHead(text: string): { minor: "0" | "1"; status: number; headers: HeaderList } {
  const lines = text.split("\r\n");
  if (lines.length > MAX_HEADER_LINES) throw new MalformedResponse(`Target response head with more than ${MAX_HEADER_LINES} lines`);
  const status = STATUS_LINE.exec(lines[0]);
  if (!status) throw new MalformedResponse(`Target answered with no HTTP/1.x status line: ${JSON.stringify(lines[0].slice(0, 80))}`);
  const headers: HeaderList = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new MalformedResponse(`Target response header line not "name: value": ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    if (value.includes("\n")) throw new MalformedResponse("Target response header with a bare LF");
    headers.push([name.toLowerCase(), value]);
  }
  return { minor: status[1] as "0" | "1", status: Number(status[2]), headers };
}

function joinTwo(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
