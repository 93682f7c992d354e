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
 * the one the proxy names (Fly-Client-IP, else the last X-Forwarded-For
 * entry, which the proxy appended), and the chain the target sees is the
 * proxy's. Anything that is not an address is ignored.
 */
export function behindTrustedProxy(request: Request, env: EntryBindings): EntryBindings {
  const fly = request.headers.get("fly-client-ip")?.trim();
  const chain = request.headers.get("x-forwarded-for") ?? undefined;
  const last = chain?.slice(chain.lastIndexOf(",") + 1).trim();
  const address = fly && ADDRESS.test(fly) ? fly : last && ADDRESS.test(last) ? last : undefined;
  if (address === undefined) return env;
  return { ...env, remoteAddress: address, forwardedFor: chain ?? address };
}
