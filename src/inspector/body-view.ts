import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";
import type { HeaderList } from "../protocol/head.ts";

/*
 * Every view is built on the thread that carries the client's tunnels, each
 * time it is opened, so each is bounded (a few milliseconds, well under the
 * capture bound in memory) whatever the body: an 8 KiB gzip of `a&` that
 * decodes to millions of fields shows its first fields and says how many
 * more there are.
 */
/** Largest decompressed body shown: the capture bound of one body (a small compressed body may expand a thousandfold). */
export const MAX_DECODED_BYTES = 1024 * 1024;
/** Bytes of a binary body shown as hex. */
export const MAX_HEX_BYTES = 4096;
/** Characters of text (and of pretty-printed JSON) shown. */
export const MAX_TEXT_CHARS = 256 * 1024;
/** JSON up to this many characters is pretty-printed; longer, it is shown as text. */
export const MAX_PRETTY_JSON_CHARS = 256 * 1024;
/**
 * Indentation pretty-printing may add; past it the JSON is shown as text.
 * Indentation grows with depth on every line: 40 KB of `[[[…]]]` would
 * otherwise print 400 million spaces.
 */
export const MAX_JSON_INDENT_CHARS = 1024 * 1024;
/** Form fields shown. */
export const MAX_FORM_FIELDS = 1000;
/** Characters of form names and values shown, all fields together. */
export const MAX_FORM_CHARS = 256 * 1024;

/** How a captured body is shown. Every string is shown as text by the page, never as markup. */
export type BodyView =
  | { kind: "empty" }
  | ({ kind: "json"; text: string } & Cut)
  | ({ kind: "form"; fields: [string, string][] } & Cut)
  | ({ kind: "text"; text: string } & Cut)
  | { kind: "binary"; hex: string };

/** Set when a view shows only the start of the body: what it left out, in words ("showing the first 1000 of 4194304 fields"). */
interface Cut {
  cut?: string;
}

export interface BodyDisplay {
  view: BodyView;
  contentType: string | undefined;
  /** The Content-Encoding the bytes were decoded from for display (the visitor got them encoded). */
  decodedFrom?: string;
  /** Why a compressed body is shown as its raw bytes. */
  decodeError?: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function header(headers: HeaderList, name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

/** The body's bytes with its Content-Encoding undone (bounded), or why not. */
function decode(bytes: Uint8Array, encoding: string, truncated: boolean): { bytes: Uint8Array } | { error: string } {
  // A capture cut at its limit is a stream cut short: decode what is there.
  const options = { maxOutputLength: MAX_DECODED_BYTES, finishFlush: truncated ? constants.Z_SYNC_FLUSH : constants.Z_FINISH };
  try {
    switch (encoding) {
      case "gzip":
      case "x-gzip":
        return { bytes: gunzipSync(bytes, options) };
      case "deflate":
        try {
          return { bytes: inflateSync(bytes, options) };
        } catch {
          return { bytes: inflateRawSync(bytes, options) }; // deflate without its zlib wrapper, as some servers send it
        }
      case "br":
        return { bytes: brotliDecompressSync(bytes, { maxOutputLength: MAX_DECODED_BYTES, finishFlush: truncated ? constants.BROTLI_OPERATION_FLUSH : constants.BROTLI_OPERATION_FINISH }) };
      default:
        return { error: `Content-Encoding ${encoding} is not decoded here` };
    }
  } catch (err) {
    const message = (err as Error).message;
    return { error: /maxOutputLength|too large|buffer/i.test(message) ? `decoded it exceeds ${MAX_DECODED_BYTES / 1024 / 1024} MiB` : `cannot decode: ${message}` };
  }
}

/** Hex dump lines: offset, 16 bytes in hex, the printable ASCII. */
export function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join("\n");
}

/** Text when the bytes are UTF-8 without control characters (other than tab and line ends). */
function asText(bytes: Uint8Array, truncated: boolean): string | undefined {
  let text: string;
  try {
    // A cut capture may end inside a character: decode up to the last whole one.
    text = utf8.decode(truncated ? bytes.subarray(0, lastWholeUtf8(bytes)) : bytes);
  } catch {
    return undefined;
  }
  // deno-lint-ignore no-control-regex
  return /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text) ? undefined : text;
}

function lastWholeUtf8(bytes: Uint8Array): number {
  let end = bytes.length;
  for (let back = 1; back <= 3 && end - back >= 0; back++) {
    const b = bytes[end - back];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (need > back) end -= back;
    break;
  }
  return end;
}

/**
 * How to show a body: JSON pretty-printed, form data as fields, other text
 * as text, anything else as hex; a compressed body decoded first (for
 * display only).
 */
export function bodyDisplay(headers: HeaderList, kept: Uint8Array, truncated: boolean): BodyDisplay {
  const contentType = header(headers, "content-type");
  const encoding = header(headers, "content-encoding")?.trim().toLowerCase();
  let bytes = kept;
  const display: BodyDisplay = { view: { kind: "empty" }, contentType };
  if (bytes.length === 0) return display;
  if (encoding && encoding !== "identity") {
    const decoded = decode(bytes, encoding, truncated);
    if ("bytes" in decoded) {
      bytes = decoded.bytes;
      display.decodedFrom = encoding;
    } else {
      display.decodeError = decoded.error;
      display.view = { kind: "binary", hex: hexDump(kept.subarray(0, MAX_HEX_BYTES)) };
      return display;
    }
  }
  const type = (contentType ?? "").split(";")[0].trim().toLowerCase();
  const text = asText(bytes, truncated);
  if (text !== undefined && (type === "application/json" || type.endsWith("+json")) && text.length <= MAX_PRETTY_JSON_CHARS) {
    if (jsonIndentChars(text, MAX_JSON_INDENT_CHARS) > MAX_JSON_INDENT_CHARS) {
      const shown = cutText(text);
      display.view = { kind: "text", text: shown.text, cut: [shown.cut, "nested too deeply to pretty-print"].filter(Boolean).join("; ") };
      return display;
    }
    try {
      display.view = { kind: "json", ...cutText(JSON.stringify(JSON.parse(text), null, 2)) };
      return display;
    } catch {
      // Not whole JSON (cut at the limit, or not JSON at all): shown as it is.
    }
  }
  if (text !== undefined && type === "application/x-www-form-urlencoded") {
    display.view = { kind: "form", ...formFields(text, { maxFields: MAX_FORM_FIELDS, maxChars: MAX_FORM_CHARS }) };
    return display;
  }
  display.view = text !== undefined ? { kind: "text", ...cutText(text) } : { kind: "binary", hex: hexDump(bytes.subarray(0, MAX_HEX_BYTES)) };
  return display;
}

/** The first MAX_TEXT_CHARS characters of `text` (never half a surrogate pair), and what was left out. */
function cutText(text: string): { text: string } & Cut {
  if (text.length <= MAX_TEXT_CHARS) return { text };
  let end = MAX_TEXT_CHARS;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last < 0xdc00) end--; // a high surrogate: its pair is past the cut
  return { text: text.slice(0, end), cut: `showing the first ${end} of ${text.length} characters` };
}

/**
 * The indentation `JSON.stringify(value, null, 2)` would add to `text`
 * (valid or not), counted up to just past `limit` in one pass: each value
 * after `[`, `{` or `,` and each closing bracket starts a line indented
 * by its depth (an empty one is counted as if it held a value: a bound).
 */
export function jsonIndentChars(text: string, limit: number): number {
  let depth = 0;
  let total = 0;
  let inString = false;
  for (let i = 0; i < text.length && total <= limit; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) total += 2 * ++depth; // [ {
    else if (c === 0x2c) total += 2 * depth; // ,
    else if (c === 0x5d || c === 0x7d) total += 2 * Math.max(0, --depth); // ] }
  }
  return total;
}

/**
 * The first fields of a form body, decoded as URLSearchParams would,
 * without taking the rest apart (only counted): at most `maxFields`
 * fields from the first `maxChars` characters of the body (decoding never
 * lengthens them; a field across that bound is cut short), so the cost is
 * bounded whatever the body holds.
 */
export function formFields(text: string, bounds: { maxFields: number; maxChars: number }): { fields: [string, string][] } & Cut {
  const fields: [string, string][] = [];
  let short = false;
  let at = 0;
  while (at <= text.length && fields.length < bounds.maxFields && !short) {
    let end = text.indexOf("&", at);
    if (end === -1) end = text.length;
    const room = bounds.maxChars - at;
    if (end - at > room) {
      // A field across the bound: its start shown when there is room, else only counted.
      if (room <= 0) break;
      fields.push(...new URLSearchParams(text.slice(at, at + room)));
      short = true;
    } else if (end > at) fields.push(...new URLSearchParams(text.slice(at, end)));
    at = end + 1;
  }
  let more = 0;
  while (at <= text.length) {
    let end = text.indexOf("&", at);
    if (end === -1) end = text.length;
    if (end > at) more++;
    at = end + 1;
  }
  const counted = `${fields.length} of ${fields.length + more} fields`;
  if (short) return { fields, cut: `showing the first ${counted}, the last cut at ${bounds.maxChars} characters of the body` };
  return more === 0 ? { fields } : { fields, cut: `showing the first ${counted}` };
}
