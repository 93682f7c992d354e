// A real OpenID Connect provider for the tests (oidc-provider, under Node),
// on loopback: one client, the authorization-code flow with PKCE, and the
// library's development login, where any login signs on. Its email is the
// login when that holds an @, else <login>@example.com.
// Usage: node oidc-provider-server.mjs CLIENT_ID CLIENT_SECRET REDIRECT_URI…
import { createServer } from "node:http";
import Provider from "oidc-provider";

const [clientId, clientSecret, ...redirectUris] = process.argv.slice(2);
const server = createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, {
  clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, grant_types: ["authorization_code"], response_types: ["code"] }],
  claims: { email: ["email", "email_verified"] },
  scopes: ["openid", "email"],
  cookies: { keys: ["tunnel2-test-provider-key"] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, email: id.includes("@") ? id : `${id}@example.com`, email_verified: true }),
  }),
});
// The development pages' warnings go to stderr; only the ready line to stdout.
server.on("request", provider.callback());
process.stdout.write(`oidc provider ready ${issuer}\n`);
