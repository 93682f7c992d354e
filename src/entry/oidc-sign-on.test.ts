import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hasOidcProvider, startOidcProvider, type TestProvider } from "../../test/helpers/oidc-provider.ts";
import { OidcSignOn, type OidcSettings } from "./oidc-sign-on.ts";
import { FLOW_COOKIE, LOGOUT_PATH, SIGN_ON_COOKIE, SIGN_ON_LANDING_PATH, withoutSignOnCookies } from "./sign-on.ts";

const HOST = "demo.tunnel.test:8080";
const page = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://${HOST}${path}`, { headers: { accept: "text/html,application/xhtml+xml", host: HOST, ...headers } });

describe("withoutSignOnCookies()", () => {
  test("drops the sign-on's cookies and keeps the rest as sent", () => {
    expect(withoutSignOnCookies(`a=1; ${SIGN_ON_COOKIE}=x; b=2;${FLOW_COOKIE}=y`)).toBe("a=1; b=2");
    expect(withoutSignOnCookies(`${SIGN_ON_COOKIE}=x`)).toBeUndefined();
    expect(withoutSignOnCookies("a=1")).toBe("a=1");
    expect(withoutSignOnCookies(`${SIGN_ON_COOKIE}x=1`)).toBe(`${SIGN_ON_COOKIE}x=1`);
  });
});

describe.skipIf(!hasOidcProvider)("OidcSignOn", () => {
  let provider: TestProvider;
  let now = 1_800_000_000_000;
  let signOn: OidcSignOn;
  const settings = (): OidcSettings => ({
    issuer: new URL(provider.issuer),
    clientId: "unit",
    clientSecret: "unit-secret",
    controlOrigin: "http://tunnel.test:8080",
    secret: "entry-secret",
    secure: false,
    now: () => now,
  });

  beforeAll(async () => {
    provider = await startOidcProvider("unit", "unit-secret", ["http://tunnel.test:8080/_tunnel/oidc/callback"]);
    signOn = await OidcSignOn.discover(settings());
  });
  afterAll(() => provider?.stop());

  test("a page load is sent to the provider with PKCE, state and nonce, and gets a flow cookie; an API call gets 401", async () => {
    const answer = await signOn.challenge(page("/app?x=1"), HOST);
    expect(answer.status).toBe(302);
    const to = new URL(answer.headers.get("location")!);
    expect(to.origin).toBe(provider.issuer);
    expect(to.searchParams.get("redirect_uri")).toBe("http://tunnel.test:8080/_tunnel/oidc/callback");
    expect(to.searchParams.get("code_challenge_method")).toBe("S256");
    expect(to.searchParams.get("scope")).toBe("openid email");
    for (const p of ["code_challenge", "state", "nonce"]) expect(to.searchParams.get(p)?.length ?? 0).toBeGreaterThan(20);
    expect(answer.headers.get("set-cookie")).toMatch(new RegExp(`^${FLOW_COOKIE}=[^;]+; Path=/; HttpOnly; SameSite=Lax; Max-Age=600$`));
    const api = await signOn.challenge(new Request(`http://${HOST}/api`, { headers: { accept: "application/json" } }), HOST);
    expect(api.status).toBe(401);
  });

  test("a forged, tampered or stale state is refused before anything is asked of the provider", async () => {
    const state = new URL((await signOn.challenge(page("/"), HOST)).headers.get("location")!).searchParams.get("state")!;
    const callback = (s: string) => signOn.callback(new Request(`http://tunnel.test:8080/_tunnel/oidc/callback?code=abc&state=${s}`));
    for (const bad of ["", "x".repeat(40), `${state.slice(0, -2)}AA`]) expect((await callback(bad)).status).toBe(400);
    now += 11 * 60_000;
    expect((await callback(state)).status).toBe(400);
    // A fresh state is taken up to the code exchange, which a made-up code fails at the provider: 502, not a sign-on.
    const fresh = new URL((await signOn.challenge(page("/"), HOST)).headers.get("location")!).searchParams.get("state")!;
    expect((await callback(fresh)).status).toBe(502);
  });

  test("the session host's own paths: a bad ticket is 400, logout clears the cookie, other paths are the tunnel's", async () => {
    expect((await signOn.sessionRoute(page(`${SIGN_ON_LANDING_PATH}?ticket=nope`), HOST))?.status).toBe(400);
    const logout = (await signOn.sessionRoute(page(LOGOUT_PATH), HOST))!;
    expect(logout.status).toBe(200);
    expect(logout.headers.get("set-cookie")).toBe(`${SIGN_ON_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
    expect(await signOn.sessionRoute(page("/anything"), HOST)).toBeUndefined();
  });

  test("no identity from a missing, malformed or foreign cookie", async () => {
    expect(await signOn.identity(page("/"), HOST)).toBeUndefined();
    for (const value of ["", "garbage", "A".repeat(200), "%%%"]) {
      expect(await signOn.identity(page("/", { cookie: `${SIGN_ON_COOKIE}=${value}` }), HOST)).toBeUndefined();
    }
    // A flow cookie or a state is not a sign-on cookie.
    const state = new URL((await signOn.challenge(page("/"), HOST)).headers.get("location")!).searchParams.get("state")!;
    expect(await signOn.identity(page("/", { cookie: `${SIGN_ON_COOKIE}=${state}` }), HOST)).toBeUndefined();
  });

  test("an issuer that cannot be reached is named", async () => {
    await expect(OidcSignOn.discover({ ...settings(), issuer: new URL("http://127.0.0.1:9/") }))
      .rejects.toThrow("Cannot use the sign-on provider http://127.0.0.1:9/ (TUNNEL_OIDC_ISSUER)");
  });
});
