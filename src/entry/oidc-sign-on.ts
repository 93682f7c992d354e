/**
 * Single sign-on with one OpenID Connect provider, for every session of an
 * entry: the authorization-code flow with PKCE, state and nonce, through
 * `openid-client`. Nothing is kept in memory between the steps: the flow's
 * secrets travel sealed (AES-GCM, a key derived from TUNNEL_SECRET) in the
 * state, a short ticket and the cookie, so any entry of a cluster can finish
 * a sign-on another began, and a cookie holds on every entry.
 *
 *   session host: no cookie → 302 to the provider (state sealed; a flow cookie ties it to this browser)
 *   control host: /_tunnel/oidc/callback → code exchanged, ID token checked → 302 to the session host with a ticket
 *   session host: /_tunnel/oidc/session?ticket → the ticket matches the flow cookie → sign-on cookie, 302 back
 */
import * as oidc from "openid-client";
import { errorResponse } from "./error-response.ts";
import { FLOW_COOKIE, LOGOUT_PATH, OIDC_CALLBACK_PATH, SIGN_ON_COOKIE, SIGN_ON_LANDING_PATH, type SignOn } from "./sign-on.ts";

/** What the sign-on is built from. */
export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret: string | undefined;
  /** The control plane's public origin: the redirect URI is `${controlOrigin}/_tunnel/oidc/callback`. */
  controlOrigin: string;
  /** The entry's TUNNEL_SECRET (the same on every entry): the sealing key derives from it. */
  secret: string;
  /** Cookies go with `Secure` (the public URLs are https). */
  secure: boolean;
  /** How long a sign-on lasts; default 12 h. */
  sessionTtlMs?: number;
  now?: () => number;
}

const FLOW_TTL_MS = 10 * 60_000;
const TICKET_TTL_MS = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9_-]{16,8192}$/.test(text)) return undefined;
  try {
    const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  } catch {
    return undefined;
  }
}

/** The value of one cookie of a request, or undefined. */
function cookieOf(request: Request, name: string): string | undefined {
  for (const pair of (request.headers.get("cookie") ?? "").split(";")) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the visitor is a browser that can follow a sign-on: a page load, not an API call. */
function isBrowserPage(request: Request): boolean {
  return (request.method === "GET" || request.method === "HEAD") && (request.headers.get("accept") ?? "").includes("text/html");
}

/** A path (and query) on the session host to come back to: never another site. */
function returnPath(request: Request): string {
  const url = new URL(request.url);
  const path = `${url.pathname}${url.search}`;
  return path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/_tunnel/") ? path : "/";
}

/** What each sealed value holds; `use` keeps a ticket from passing as a cookie or a state. */
type Sealed =
  | { use: "state"; host: string; to: string; verifier: string; nonce: string; flow: string; exp: number }
  | { use: "ticket"; host: string; to: string; email: string; flow: string; exp: number }
  | { use: "cookie"; host: string; email: string; exp: number };

export class OidcSignOn implements SignOn {
  #config: oidc.Configuration;
  #settings: OidcSettings;
  #key: CryptoKey;
  #now: () => number;

  private constructor(config: oidc.Configuration, settings: OidcSettings, key: CryptoKey) {
    this.#config = config;
    this.#settings = settings;
    this.#key = key;
    this.#now = settings.now ?? Date.now;
  }

  /** Discovers the provider; fails with a message naming the issuer when it cannot be reached or read. */
  static async discover(settings: OidcSettings): Promise<OidcSignOn> {
    // Plain http only for a provider on this machine (tests, development).
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(settings.issuer.hostname);
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        settings.issuer,
        settings.clientId,
        settings.clientSecret ? { client_secret: settings.clientSecret } : undefined,
        settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None(),
        loopback ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
    } catch (err) {
      throw new Error(`Cannot use the sign-on provider ${settings.issuer.href} (TUNNEL_OIDC_ISSUER): ${(err as Error).message}`);
    }
    const material = await crypto.subtle.importKey("raw", encoder.encode(settings.secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const raw = await crypto.subtle.sign("HMAC", material, encoder.encode("tunnel2 sign-on sealing key"));
    const key = await crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    return new OidcSignOn(config, settings, key);
  }

  async #seal(value: Sealed): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, this.#key, encoder.encode(JSON.stringify(value))));
    const out = new Uint8Array(12 + sealed.byteLength);
    out.set(iv);
    out.set(sealed, 12);
    return base64url(out);
  }

  /** A sealed value of this use, unexpired; undefined for anything forged, tampered with, stale or malformed. */
  async #open<U extends Sealed["use"]>(text: string | null | undefined, use: U): Promise<Extract<Sealed, { use: U }> | undefined> {
    const bytes = text ? fromBase64url(text) : undefined;
    if (!bytes || bytes.byteLength < 29) return undefined;
    try {
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: bytes.subarray(0, 12) }, this.#key, bytes.subarray(12));
      const value = JSON.parse(decoder.decode(plain)) as Sealed;
      if (value.use !== use || typeof value.exp !== "number" || value.exp < this.#now()) return undefined;
      return value as Extract<Sealed, { use: U }>;
    } catch {
      return undefined;
    }
  }

  #cookie(name: string, value: string, maxAgeS: number): string {
    return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${this.#settings.secure ? "; Secure" : ""}`;
  }

  #scheme(): string {
    return this.#settings.secure ? "https" : "http";
  }

  async challenge(request: Request, sessionHost: string): Promise<Response> {
    if (!isBrowserPage(request)) {
      return errorResponse(401, `Unauthorized: this tunnel needs a sign-on: open ${this.#scheme()}://${sessionHost}/ in a browser`);
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    const flow = oidc.randomState();
    const state = await this.#seal({ use: "state", host: sessionHost, to: returnPath(request), verifier, nonce, flow, exp: this.#now() + FLOW_TTL_MS });
    const url = oidc.buildAuthorizationUrl(this.#config, {
      redirect_uri: `${this.#settings.controlOrigin}${OIDC_CALLBACK_PATH}`,
      scope: "openid email",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
    return new Response(null, {
      status: 302,
      headers: { location: url.href, "set-cookie": this.#cookie(FLOW_COOKIE, flow, FLOW_TTL_MS / 1000), "cache-control": "no-store" },
    });
  }

  async callback(request: Request): Promise<Response> {
    const given = new URL(request.url);
    const state = await this.#open(given.searchParams.get("state"), "state");
    if (!state) return errorResponse(400, "Bad request: this sign-on is unknown or more than 10 minutes old: open the tunnel's page again");
    // The URL as the provider was told it: the entry may sit behind a proxy that speaks http to it.
    const current = new URL(`${this.#settings.controlOrigin}${OIDC_CALLBACK_PATH}${given.search}`);
    let email: unknown;
    let verified: unknown;
    try {
      const tokens = await oidc.authorizationCodeGrant(this.#config, current, {
        pkceCodeVerifier: state.verifier,
        expectedState: given.searchParams.get("state")!,
        expectedNonce: state.nonce,
        idTokenExpected: true,
      });
      let claims: Record<string, unknown> = tokens.claims() ?? {};
      // Many providers put the email in the ID token; others (as the spec prefers) only at the UserInfo endpoint.
      if (typeof claims.email !== "string" && typeof claims.sub === "string") {
        claims = await oidc.fetchUserInfo(this.#config, tokens.access_token, claims.sub);
      }
      ({ email, email_verified: verified } = claims);
    } catch (err) {
      return errorResponse(502, `Bad gateway: the sign-on provider did not confirm the sign-on (${(err as Error).message.slice(0, 200)})`);
    }
    // Providers that do not say (no email_verified claim) are taken at their word; one that says false, in any form, is not.
    if (typeof email !== "string" || email.length > 320 || verified === false || verified === "false") {
      return errorResponse(403, "Forbidden: the sign-on provider gave no verified email address, and this tunnel lets in by address");
    }
    const ticket = await this.#seal({ use: "ticket", host: state.host, to: state.to, email, flow: state.flow, exp: this.#now() + TICKET_TTL_MS });
    const back = `${this.#scheme()}://${state.host}${SIGN_ON_LANDING_PATH}?ticket=${ticket}`;
    return new Response(null, { status: 302, headers: { location: back, "cache-control": "no-store" } });
  }

  async sessionRoute(request: Request, sessionHost: string): Promise<Response | undefined> {
    const url = new URL(request.url);
    if (url.pathname === LOGOUT_PATH) {
      return new Response(`<!doctype html><meta charset="utf-8"><title>Signed out</title><p>Signed out of ${sessionHost.replace(/[^A-Za-z0-9.:[\]-]/g, "")}.</p>\n`, {
        headers: { "content-type": "text/html; charset=utf-8", "set-cookie": this.#cookie(SIGN_ON_COOKIE, "", 0), "cache-control": "no-store" },
      });
    }
    if (url.pathname !== SIGN_ON_LANDING_PATH) return undefined;
    const ticket = await this.#open(url.searchParams.get("ticket"), "ticket");
    // The ticket must be for this host and come back to the browser that began the sign-on (against login CSRF).
    if (!ticket || ticket.host !== sessionHost || cookieOf(request, FLOW_COOKIE) !== ticket.flow) {
      return errorResponse(400, "Bad request: this sign-on did not start in this browser, or it is stale: open the tunnel's page again");
    }
    const ttl = this.#settings.sessionTtlMs ?? 12 * 3600_000;
    const cookie = await this.#seal({ use: "cookie", host: sessionHost, email: ticket.email, exp: this.#now() + ttl });
    const headers = new Headers({ location: ticket.to, "cache-control": "no-store" });
    headers.append("set-cookie", this.#cookie(SIGN_ON_COOKIE, cookie, Math.floor(ttl / 1000)));
    headers.append("set-cookie", this.#cookie(FLOW_COOKIE, "", 0));
    return new Response(null, { status: 302, headers });
  }

  async identity(request: Request, sessionHost: string): Promise<string | undefined> {
    const cookie = await this.#open(cookieOf(request, SIGN_ON_COOKIE), "cookie");
    return cookie && cookie.host === sessionHost ? cookie.email : undefined;
  }
}
