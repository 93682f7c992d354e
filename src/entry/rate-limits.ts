import { TokenBucket } from "./token-bucket.ts";

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

/** The answer for a request over its session's rate. */
export interface RateDecision {
  limit: number;
  /** Seconds until a request would be admitted. */
  retryAfter: number;
}

/** Decides whether a session's request may go on: this entry's own buckets, or buckets shared by several entries. */
export interface RateLimiter {
  /** The tier that applies to a session (undefined: unlimited). */
  tierOf(session: string): Tier | undefined;
  /** Admits a request (undefined) or says how long to wait. */
  check(session: string): RateDecision | undefined | Promise<RateDecision | undefined>;
}

/**
 * Per-session token buckets, by tier. `check()` is not called at all when no
 * limit is configured (see {@linkcode RateLimits.create}).
 */
export class RateLimits implements RateLimiter {
  #tierOf: (session: string) => Tier | undefined;
  #buckets = new Map<string, TokenBucket>();
  #lastSweep = 0;

  private constructor(tierOf: (session: string) => Tier | undefined) {
    this.#tierOf = tierOf;
  }

  /** Limits from the global rate and the tiers, or undefined when nothing is limited. */
  static create(global: Tier | undefined, tiers: TierConfig | undefined): RateLimits | undefined {
    if (!global && !tiers) return undefined;
    return new RateLimits((session) => {
      const name = tiers?.sessions[session] ?? tiers?.sessions["*"];
      const tier = name === undefined ? global : tiers!.tiers[name];
      return tier && tier.rps !== null ? tier : undefined;
    });
  }

  /** The tier that applies to a session (undefined: unlimited). */
  tierOf(session: string): Tier | undefined {
    return this.#tierOf(session);
  }

  /** Admits a request (undefined) or says how long to wait. */
  check(session: string, now = Date.now()): RateDecision | undefined {
    const tier = this.#tierOf(session);
    if (!tier) return undefined;
    // Swept before the lookup: a bucket made just now is full, and a sweep after would drop it with its token taken.
    if (now - this.#lastSweep > 60_000) this.#sweep(now);
    let bucket = this.#buckets.get(session);
    if (!bucket || bucket.rate !== tier.rps || bucket.burst !== tier.burst) {
      bucket = new TokenBucket(tier.rps!, tier.burst, now);
      this.#buckets.set(session, bucket);
    }
    const wait = bucket.take(now);
    return wait === 0 ? undefined : { limit: tier.rps!, retryAfter: wait };
  }

  /** Drops full buckets: a full bucket is as good as a new one. */
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [session, bucket] of this.#buckets) if (bucket.full(now)) this.#buckets.delete(session);
  }
}
