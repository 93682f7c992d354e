/** Starts the tests' OpenID Connect provider (test/helpers/oidc-provider-server.mjs) under Node, on loopback. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawnUntil } from "./processes.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** oidc-provider is a devDependency and the provider runs under Node: both must be here. */
export const hasOidcProvider = existsSync(join(ROOT, "node_modules", "oidc-provider")) && Bun.which("node") !== null;

export interface TestProvider {
  issuer: string;
  stop(): void;
}

export async function startOidcProvider(clientId: string, clientSecret: string, redirectUris: string[]): Promise<TestProvider> {
  const started = await spawnUntil(
    ["node", join(import.meta.dir, "oidc-provider-server.mjs"), clientId, clientSecret, ...redirectUris],
    {},
    /oidc provider ready (\S+)/,
  );
  return { issuer: started.match[1], stop: () => started.proc.kill() };
}
