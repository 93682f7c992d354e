/**
 * Who the request inspector answers. Every captured request (visitors'
 * cookies and Authorization headers among them) can be read and replayed
 * through it, so it answers only Host names that are its own (a page rebound
 * by DNS to this machine names its own host), and only to who holds its
 * token, printed once when it starts, as Jupyter does: a browser that opened
 * the printed URL keeps it as a cookie, a script sends it as
 * `Authorization: Bearer`. On loopback a browser needs it too (when 4040 is
 * taken the client moves to 4041, and a browser opening 4040 by habit must
 * not land on another client's requests and its Replay button), while a
 * script on this machine (curl, a test) reads the API without it, as on
 * ngrok's 4040.
 */

/**
 * The cookie that carries the token once the printed URL was opened, one
 * per port: cookies are scoped by host, not port, so two clients' inspectors
 * on one machine would otherwise overwrite each other's.
 */
export function tokenCookie(host: string): string {
  return `tunnel2_inspector_${host.slice(host.lastIndexOf(":") + 1)}`;
}

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
  /** The token a request must carry. */
  token: string;
  /** On loopback: requests that no browser sent (see {@linkcode fromBrowser}) are served without the token. */
  scriptsWithoutToken: boolean;
}

/** Whether a request carries the token: a Bearer header or the cookie named `cookie`. */
export function carriesToken(request: Request, token: string, cookie: string): boolean {
  const auth = request.headers.get("authorization") ?? "";
  if (auth.startsWith("Bearer ") && sameText(auth.slice(7).trim(), token)) return true;
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === cookie && sameText(value.join("="), token)) return true;
  }
  return false;
}

/**
 * Whether a browser sent the request: browsers add fetch metadata
 * (`Sec-Fetch-*`) to every request to loopback, an `Origin` to changes, and
 * call themselves Mozilla; curl, scripts and the runtimes' fetch do none of it.
 */
export function fromBrowser(request: Request): boolean {
  const h = request.headers;
  return h.has("sec-fetch-mode") || h.has("sec-fetch-site") || h.has("sec-fetch-dest") || h.has("origin") ||
    h.has("upgrade-insecure-requests") || (h.get("user-agent") ?? "").startsWith("Mozilla/");
}

/** Whether a query-string token matches (the printed URL being opened). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  return given !== undefined && sameText(given, token);
}
