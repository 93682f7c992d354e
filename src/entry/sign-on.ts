/**
 * What the entry asks of single sign-on (TUNNEL_OIDC_ISSUER), for sessions
 * whose tunnel sets --oidc-allow. `oidc-sign-on.ts` implements it with an
 * OpenID Connect library, loaded only when an issuer is configured.
 */
export interface SignOn {
  /** A visitor with no valid sign-on: browsers are sent to the provider, others get 401. */
  challenge(request: Request, sessionHost: string): Promise<Response>;
  /** The control plane's callback (OIDC_CALLBACK_PATH): finishes a sign-on and sends the browser back to its session host. */
  callback(request: Request): Promise<Response>;
  /** The sign-on's own paths on a session host (SIGN_ON_LANDING_PATH, LOGOUT_PATH); undefined for every other path. */
  sessionRoute(request: Request, sessionHost: string): Promise<Response | undefined>;
  /** The signed-on address the request's cookie proves for this host, if any. */
  identity(request: Request, sessionHost: string): Promise<string | undefined>;
}

/** The one redirect URI a provider needs, on the control plane's host. */
export const OIDC_CALLBACK_PATH = "/_tunnel/oidc/callback";
/** Where a browser lands on its session host to receive its sign-on cookie. */
export const SIGN_ON_LANDING_PATH = "/_tunnel/oidc/session";
/** Ends a visitor's sign-on on a session host. */
export const LOGOUT_PATH = "/_tunnel/logout";
/** The sign-on cookie, and the one that ties a sign-on to the browser that began it. */
export const SIGN_ON_COOKIE = "__tunnel2_sso";
export const FLOW_COOKIE = "__tunnel2_flow";

/** A Cookie header without the sign-on's cookies (the target never sees them); undefined when nothing is left. */
export function withoutSignOnCookies(cookie: string): string | undefined {
  const kept = cookie.split(";").filter((pair) => {
    const name = pair.slice(0, pair.indexOf("=") < 0 ? pair.length : pair.indexOf("=")).trim();
    return name !== SIGN_ON_COOKIE && name !== FLOW_COOKIE && pair.trim() !== "";
  });
  return kept.length > 0 ? kept.map((pair) => pair.trim()).join("; ") : undefined;
}
