import { endToEndList } from "../protocol/end-to-end-headers.ts";
import type { HeaderList } from "../protocol/head.ts";
import { scopeCookies } from "./cookie-scope.ts";

/**
 * The headers of an answer from a tunnel client (or from another entry) as
 * the visitor gets them:
 * - end to end only (a client may send anything in a response head);
 * - no `Fly-*` header: Fly's proxy acts on `fly-replay` (and
 *   `fly-replay-cache…`) in any app response, replaying the visitor's
 *   request to another app, machine or region of the operator's
 *   organization; only the entry's own replay answer may carry one;
 * - no `Content-Length` beside a `Transfer-Encoding` (RFC 9112 §6.3: the
 *   length is stale; a runtime would cut the body to it);
 * - Set-Cookie held to the session's host (`cookieHost`), when given.
 */
export function answerHeaders(headers: HeaderList, cookieHost?: string): HeaderList {
  let framed = false;
  let steering = false;
  for (const [name] of headers) {
    const first = name.charCodeAt(0) | 0x20;
    if (first === 0x66 /* f */ && name.length > 4 && name.slice(0, 4).toLowerCase() === "fly-") steering = true;
    else if (first === 0x74 /* t */ && name.length === 17 && name.toLowerCase() === "transfer-encoding") framed = true;
  }
  let out = endToEndList(headers);
  if (steering || framed) {
    out = out.filter(([name]) => {
      const lower = name.toLowerCase();
      return !lower.startsWith("fly-") && !(framed && lower === "content-length");
    });
  }
  return cookieHost === undefined ? out : scopeCookies(out, cookieHost);
}
