import type { Tier, TierConfig } from "../config/tiers.ts";
import { TokenBucket } from "./token-bucket.ts";

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
