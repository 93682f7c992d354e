import { redisErrorText } from "./redis-error-text.ts";
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { Tier, TierConfig } from "../config/tiers.ts";
import { type RateDecision, type RateLimiter, RateLimits } from "../entry/rate-limits.ts";

/** Options for {@linkcode SharedRateLimits}. */
export interface SharedRateLimitsOptions {
  /** `redis://…` */
  url: string;
  log: Logger;
  /** Key prefix, so tests and deployments can share a Redis. Default `tunnel2:`. */
  prefix?: string;
  /** A check that Redis has not answered within this many ms is decided locally. Default 250 (a loaded machine stalls for tens of ms; a Redis round trip on one network is well under 1 ms). */
  timeoutMs?: number;
}

/**
 * The token bucket of src/entry/token-bucket.ts, in Redis: one hash per session
 * (`tokens`, `us` = when last refilled, in µs of Redis' clock), read, refilled,
 * taken from and written in one atomic step. Time comes from `TIME`, so the
 * entries' clocks do not matter. A refused request writes nothing (refilling
 * later gives the same tokens). The key expires when the bucket would be full
 * again, since a full bucket is as good as none. Answers the seconds to wait,
 * as a string (Redis would cut a Lua number to an integer): "0" = admitted.
 *
 * Own Lua rather than rate-limiter-flexible: its Redis limiter counts points
 * in fixed windows (up to twice the rate across a window's edge), not a token
 * bucket with `burst`, so it would answer otherwise than the local
 * {@linkcode RateLimits}; and its own fallback (insuranceLimiter) would make a
 * second, differently configured local limiter. The bucket is 13 lines.
 */
const TAKE = `
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local state = redis.call('HMGET', KEYS[1], 'tokens', 'us')
local tokens, last = tonumber(state[1]) or burst, tonumber(state[2]) or now
if now > last then
  tokens = math.min(burst, tokens + (now - last) / 1000000 * rate)
end
if tokens < 1 then return tostring((1 - tokens) / rate) end
tokens = tokens - 1
redis.call('HSET', KEYS[1], 'tokens', tokens, 'us', math.max(now, last))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1)
return '0'
`;

/** After a failed or slow call, how long checks are decided locally without asking Redis. */
const PAUSE_MS = 1000;

type WithTake = Redis & { rateTake(key: string, rate: number, burst: number): Promise<string> };

/**
 * Per-session token buckets shared by every entry through Redis: a session
 * limited to 10 RPS gets 10 RPS in total, however many entries its visitors
 * reach. One round trip per limited request (a Lua script, EVALSHA); sessions
 * without a limit never touch Redis.
 *
 * When Redis is unreachable, or a call fails or takes longer than `timeoutMs`,
 * that request is decided by this entry's own {@linkcode RateLimits} instead,
 * and so is every request for {@linkcode PAUSE_MS} after a failed call (a slow
 * Redis must not add `timeoutMs` to each request). Limits then hold per entry,
 * not in total: with n entries a session may get up to n times its rate. The
 * fault is logged once, and its end once, not per request.
 */
export class SharedRateLimits implements RateLimiter {
  readonly #local: RateLimits;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #redis: WithTake;
  #pausedUntil = 0;
  #faultLogged = false;
  #closed = false;

  /** Limits from the global rate and the tiers (as {@linkcode RateLimits.create}), or undefined when nothing is limited. */
  static create(global: Tier | undefined, tiers: TierConfig | undefined, options: SharedRateLimitsOptions): SharedRateLimits | undefined {
    const local = RateLimits.create(global, tiers);
    return local && new SharedRateLimits(local, options);
  }

  /** `local` gives the tiers and decides while Redis does not answer. */
  constructor(local: RateLimits, options: SharedRateLimitsOptions) {
    this.#local = local;
    this.#log = options.log;
    this.#prefix = options.prefix ?? "tunnel2:";
    const redis = new Redis(options.url, {
      // Commands fail at once while Redis is down (no offline queue), and after timeoutMs when it is slow.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.timeoutMs ?? 250,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    });
    // EVALSHA, sending the script itself (EVAL) the first time on each connection and after NOSCRIPT.
    redis.defineCommand("rateTake", { numberOfKeys: 1, lua: TAKE });
    redis.on("error", (err: Error) => this.#onFault(err));
    this.#redis = redis as WithTake;
  }

  /** Whether checks go to Redis now (else they are decided locally). */
  get connected(): boolean {
    return this.#redis.status === "ready" && Date.now() >= this.#pausedUntil;
  }

  /** The tier that applies to a session (undefined: unlimited). */
  tierOf(session: string): Tier | undefined {
    return this.#local.tierOf(session);
  }

  /** Admits a request (undefined) or says how long to wait; asks Redis only for limited sessions. */
  check(session: string): RateDecision | undefined | Promise<RateDecision | undefined> {
    const tier = this.#local.tierOf(session);
    if (!tier) return undefined;
    if (!this.connected) return this.#local.check(session);
    return this.#take(session, tier);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#redis.disconnect();
    return Promise.resolve();
  }

  async #take(session: string, tier: Tier): Promise<RateDecision | undefined> {
    let wait: number;
    try {
      wait = Number(await this.#redis.rateTake(`${this.#prefix}rate:${session}`, tier.rps!, tier.burst));
    } catch (err) {
      this.#onFault(err as Error);
      return this.#local.check(session);
    }
    if (this.#faultLogged) {
      this.#faultLogged = false;
      this.#log.info("redis answering again: rate limits shared across entries");
    }
    return wait === 0 ? undefined : { limit: tier.rps!, retryAfter: wait };
  }

  #onFault(err: Error): void {
    this.#pausedUntil = Date.now() + PAUSE_MS;
    if (this.#faultLogged || this.#closed) return;
    this.#faultLogged = true;
    this.#log.warn("redis unreachable or slow: rate limits per entry until it answers", { error: redisErrorText(err) });
  }
}
