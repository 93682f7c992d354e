import type { EntryBindings } from "../runtime/entry-runtime.ts";

/** An address as a proxy writes it: IPv4 or IPv6 characters only. */
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;

/**
 * The X-Forwarded-For a target sees: what the entry's front set (a trusted
 * proxy, or the entry that forwarded the request), else the chain the
 * visitor sent followed by the address it connected from.
 */
export function forwardedFor(request: Request, env: EntryBindings): string {
  if (env.forwardedFor !== undefined) return env.forwardedFor;
  const prior = request.headers.get("x-forwarded-for");
  return prior ? `${prior}, ${env.remoteAddress}` : env.remoteAddress;
}

/**
 * Behind a trusted proxy (TRUST_PROXY, or on Fly): the visitor's address is
 * the one the proxy names: on Fly, Fly-Client-IP (Fly's proxy sets it);
 * else, or without it, the last X-Forwarded-For entry, which the proxy
 * appended. Another proxy (Caddy, nginx) passes a visitor's own
 * Fly-Client-IP through, so off Fly it is never read. The chain the target
 * sees is the proxy's. Anything that is not an address is ignored.
 */
export function behindTrustedProxy(request: Request, env: EntryBindings, onFly: boolean): EntryBindings {
  const fly = onFly ? request.headers.get("fly-client-ip")?.trim() : undefined;
  const chain = request.headers.get("x-forwarded-for") ?? undefined;
  const last = chain?.slice(chain.lastIndexOf(",") + 1).trim();
  const address = fly && ADDRESS.test(fly) ? fly : last && ADDRESS.test(last) ? last : undefined;
  if (address === undefined) return env;
  return { ...env, remoteAddress: address, forwardedFor: chain ?? address };
}
