/** One tier: `rps` requests per second with bursts up to `burst`; null rps = unlimited. */
export interface Tier {
  rps: number | null;
  burst: number;
}

/**
 * Tier configuration (TUNNEL_TIERS): JSON inline, or the path of a JSON file:
 *
 * ```json
 * { "tiers": { "free": { "rps": 10, "burst": 20 }, "pro": { "rps": 100 }, "unlimited": { "rps": null } },
 *   "sessions": { "acme": "pro", "internal": "unlimited", "*": "free" } }
 * ```
 *
 * `burst` defaults to `rps` (one second's worth). `"*"` is the tier of sessions not
 * listed; without it they get RATE_LIMIT_RPS/RATE_LIMIT_BURST, or no limit.
 */
export interface TierConfig {
  tiers: Record<string, Tier>;
  sessions: Record<string, string>;
}

/** Parses and checks a TierConfig; throws Error with a clear message. */
export function parseTiers(text: string): TierConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`TUNNEL_TIERS is not valid JSON: ${(err as Error).message}`);
  }
  const o = raw as { tiers?: unknown; sessions?: unknown };
  if (typeof o !== "object" || o === null || typeof o.tiers !== "object" || o.tiers === null) {
    throw new Error('TUNNEL_TIERS needs a "tiers" object');
  }
  const tiers: Record<string, Tier> = {};
  for (const [name, value] of Object.entries(o.tiers as Record<string, unknown>)) {
    const t = value as { rps?: unknown; burst?: unknown };
    const rps = t?.rps;
    if (rps !== null && (typeof rps !== "number" || !(rps > 0))) {
      throw new Error(`TUNNEL_TIERS tier "${name}": rps must be a positive number or null (unlimited)`);
    }
    const burst = t.burst ?? (rps === null ? 0 : Math.max(1, rps));
    if (typeof burst !== "number" || (rps !== null && !(burst >= 1))) {
      throw new Error(`TUNNEL_TIERS tier "${name}": burst must be a number of at least 1`);
    }
    tiers[name] = { rps, burst };
  }
  const sessions: Record<string, string> = {};
  if (o.sessions !== undefined) {
    if (typeof o.sessions !== "object" || o.sessions === null) throw new Error('TUNNEL_TIERS "sessions" must be an object');
    for (const [session, tier] of Object.entries(o.sessions as Record<string, unknown>)) {
      if (typeof tier !== "string" || !(tier in tiers)) {
        throw new Error(`TUNNEL_TIERS session "${session}": unknown tier ${JSON.stringify(tier)}`);
      }
      sessions[session] = tier;
    }
  }
  return { tiers, sessions };
}
