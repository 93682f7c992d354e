import type { HeaderList } from "./head.ts";

/** Hop-by-hop headers (RFC 9110 §7.6.1): they never cross the tunnel. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "http2-settings",
]);

/** All headers of a `Headers` as a list, each `Set-Cookie` a separate entry (after the others). */
export function headerList(headers: Headers): HeaderList {
  const list: HeaderList = [];
  for (const [name, value] of headers) if (name !== "set-cookie") list.push([name, value]);
  for (const cookie of headers.getSetCookie()) list.push(["set-cookie", cookie]);
  return list;
}

/**
 * The end-to-end headers of a message as a list: hop-by-hop headers, any
 * header named in `Connection`, and the names in `drop` (lowercase) are left
 * out. Each `Set-Cookie` stays a separate entry.
 */
export function endToEndHeaders(headers: Headers, drop: readonly string[] = []): HeaderList {
  return endToEndList(headerList(headers), drop);
}

/** Same rule over a header list (as read from a raw HTTP message). */
export function endToEndList(headers: HeaderList, drop: readonly string[] = []): HeaderList {
  const named = new Set(drop);
  for (const [name, value] of headers) {
    if (name.toLowerCase() === "connection") {
      for (const token of value.split(",")) named.add(token.trim().toLowerCase());
    }
  }
  return headers.filter(([name]) => {
    const lower = name.toLowerCase();
    return !HOP_BY_HOP.has(lower) && !named.has(lower) && !lower.startsWith("proxy-");
  });
}

/** Statuses whose responses never carry a body. */
const NO_BODY_STATUS = new Set([204, 205, 304]);

/**
 * Whether `method` is GET or HEAD in any letter case: methods are
 * case-sensitive, but Deno's server keeps `get` and node:http upper-cases it
 * on the way to the target, so body decisions must not depend on the case.
 */
export function isGetOrHead(method: string): boolean {
  if (method === "GET" || method === "HEAD") return true;
  if (method.length !== 3 && method.length !== 4) return false;
  const upper = method.toUpperCase();
  return upper === "GET" || upper === "HEAD";
}

/** Whether a response to `method` with `status` carries no body (HEAD in any case, 204, 205, 304). */
export function isBodyless(method: string, status: number): boolean {
  return NO_BODY_STATUS.has(status) || method === "HEAD" || (method.length === 4 && method.toUpperCase() === "HEAD");
}
