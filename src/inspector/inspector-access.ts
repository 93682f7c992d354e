/**
 * Who the request inspector answers. Every captured request (visitors'
 * cookies and Authorization headers among them) can be read and replayed
 * through it, so on any listen address it answers only Host names that are
 * its own (a page rebound by DNS to this machine names its own host), and
 * beyond loopback it asks for a token too, printed once when it starts, as
 * Jupyter does: a browser that opened the printed URL keeps it as a cookie,
 * a script sends it as `Authorization: Bearer`.
 */

/** The cookie that carries the token once the printed URL was opened. */
export const TOKEN_COOKIE = "tunnel2_inspector";

/** Whether an address is this machine's loopback: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/** Whether an address means every interface. */
export function isWildcard(hostname: string): boolean {
  return hostname === "0.0.0.0" || hostname === "::" || hostname === "";
}

/** `[::1]` for an IPv6 address in a URL or Host header. */
export function hostText(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * The Host names (without port) the inspector answers to: loopback's, the
 * listen address, and on a wildcard address the machine's names and
 * addresses (`machine`, from the runtime; empty when it may not read them).
 */
export function ownHostNames(listenHostname: string, machine: string[]): Set<string> {
  const names = new Set(["localhost", "127.0.0.1", "[::1]"]);
  if (!isWildcard(listenHostname)) names.add(hostText(listenHostname.toLowerCase()));
  else for (const name of machine) names.add(hostText(name.toLowerCase()));
  return names;
}

/** Compares two strings in time that depends on their length only. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A fresh token: 128 random bits in hex. */
export function newToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** What the inspector's middleware needs to decide on a request. */
export interface InspectorAccess {
  /** Whether `host` (a Host header, lowercase, with its port) names the inspector. */
  isOwnHost(host: string): boolean;
  /** The token asked for beyond loopback; undefined on loopback. */
  token: string | undefined;
}

/** Whether a request carries the token: a Bearer header or the cookie. */
export function carriesToken(request: Request, token: string): boolean {
  const auth = request.headers.get("authorization") ?? "";
  if (auth.startsWith("Bearer ") && sameText(auth.slice(7).trim(), token)) return true;
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === TOKEN_COOKIE && sameText(value.join("="), token)) return true;
  }
  return false;
}

/** Whether a query-string token matches (the printed URL being opened). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && sameText(given, token);
}
