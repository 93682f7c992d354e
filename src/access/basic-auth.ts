import { constantTimeEqual, constantTimeEqualText } from "./constant-time.ts";
const encoder = new TextEncoder();


/** The bytes of an `Authorization: Basic …` header's credentials, or undefined when it carries none. */
function basicCredentials(authorization: string | null): Uint8Array | undefined {
  if (authorization === null) return undefined;
  const match = /^basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(authorization);
  if (!match || match[1].length > 4096) return undefined;
  let decoded: string;
  try {
    decoded = atob(match[1]);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(decoded.length);
  for (let i = 0; i < decoded.length; i++) bytes[i] = decoded.charCodeAt(i);
  return bytes;
}


/** `Basic <base64 of the UTF-8 pair>`, as browsers and curl send it. */
function headerOf(pair: string): string {
  const bytes = encoder.encode(pair);
  let latin1 = "";
  for (const b of bytes) latin1 += String.fromCharCode(b);
  return `Basic ${btoa(latin1)}`;
}

/**
 * Basic authentication for a tunnel: any of the `user:password` pairs lets a
 * visitor in. Every pair is compared, in constant time, whatever the visitor
 * sent, so neither which pair nor how much of it matched shows in the timing.
 */
export class BasicAuthCheck {
  readonly users: readonly string[];
  #expected: Uint8Array[];
  /** The headers clients send for each pair: compared first, so the usual request decodes nothing. */
  #headers: string[];

  /** `credentials`: `user:password` each (the password may hold colons; the user may not). */
  constructor(credentials: readonly string[]) {
    this.users = credentials.map((pair) => pair.slice(0, pair.indexOf(":")));
    this.#expected = credentials.map((pair) => encoder.encode(pair));
    this.#headers = credentials.map(headerOf);
  }

  /** Whether the request's Authorization header names one of the pairs. */
  allows(authorization: string | null): boolean {
    if (authorization === null) return false;
    if (authorization.length <= 4096) {
      let same = false;
      for (const expected of this.#headers) same = constantTimeEqualText(authorization, expected) || same;
      if (same) return true;
    }
    // Another spelling of the same pair (`basic`, more spaces): decoded and compared by bytes.
    const given = basicCredentials(authorization);
    if (!given) return false;
    let ok = false;
    for (const expected of this.#expected) ok = constantTimeEqual(given, expected) || ok;
    return ok;
  }
}

/** Why a `user:password` pair cannot be used, or undefined. */
export function credentialProblem(pair: string): string | undefined {
  const colon = pair.indexOf(":");
  if (colon < 1) return "expected USER:PASSWORD with a non-empty user";
  if (colon === pair.length - 1) return `the password of user ${JSON.stringify(pair.slice(0, colon).slice(0, 40))} is empty`;
  for (let i = 0; i < pair.length; i++) {
    const code = pair.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return "control characters are not allowed";
  }
  return undefined;
}
