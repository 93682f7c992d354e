/**
 * SharedRateLimits against a real redis-server: two limiters stand for two
 * entries sharing one Redis; what they admit together, how buckets refill and
 * vanish, and what happens while Redis is slow or away.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import { parseTiers } from "../config/tiers.ts";
import type { RateDecision } from "../entry/rate-limits.ts";
import { hasRedis, startRedis, type TestRedis } from "../../test/helpers/redis-server.ts";
import { runToEnd } from "../../test/helpers/processes.ts";
import { eventually } from "../../test/helpers/wait.ts";
import { SharedRateLimits } from "./shared-rate-limits.ts";

/** A logger that keeps its lines, to count warnings. */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

const tiers = parseTiers(JSON.stringify({
  tiers: { free: { rps: 10, burst: 10 }, pro: { rps: 20, burst: 5 }, unlimited: { rps: null } },
  sessions: { acme: "pro", internal: "unlimited", "*": "free" },
}));

/** Runs `n` checks at once, alternating between the limiters; the admitted count and the refusals. */
async function burst(limits: SharedRateLimits[], session: string, n: number): Promise<{ admitted: number; refused: RateDecision[] }> {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => limits[i % limits.length].check(session)));
  return { admitted: answers.filter((d) => d === undefined).length, refused: answers.filter((d) => d !== undefined) };
}

const warnings = (log: { lines: string[] }) => log.lines.filter((l) => l.startsWith("warn ")).length;

test("nothing limited: no shared limiter (and no Redis connection)", () => {
  expect(SharedRateLimits.create(undefined, undefined, { url: "redis://127.0.0.1:1", log: memoryLog() })).toBeUndefined();
});

if (!hasRedis) console.warn("SKIPPED: redis-server is not installed (apt-get install redis-server)");

describe.skipIf(!hasRedis)("SharedRateLimits", () => {
  let redis: TestRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    admin.on("error", () => {}); // while Redis is stopped
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  /** Two entries' limiters on one prefix, connected. */
  async function entries(prefix: string, logs = [memoryLog(), memoryLog()], timeoutMs?: number): Promise<SharedRateLimits[]> {
    const limits = logs.map((log) => SharedRateLimits.create(undefined, tiers, { url: redis.url, prefix, log, timeoutMs })!);
    await eventually(() => (limits.every((l) => l.connected) ? true : undefined));
    return limits;
  }
  const closeAll = (limits: SharedRateLimits[]) => Promise.all(limits.map((l) => l.close()));

  test("two entries at 10 RPS, burst 10: 30 checks over both admit exactly 10; the refusals say when", async () => {
    const limits = await entries("s1:");
    const { admitted, refused } = await burst(limits, "demo", 30);
    expect(admitted).toBe(10);
    for (const decision of refused) {
      expect(decision.limit).toBe(10);
      expect(decision.retryAfter).toBeGreaterThan(0.05); // < 1 token short at 10/s: at most 0.1 s, minus the few ms the burst took
      expect(decision.retryAfter).toBeLessThanOrEqual(0.1);
    }
    // Another tier, another bucket: rps 20, burst 5.
    const pro = await burst(limits, "acme", 12);
    expect(pro.admitted).toBe(5);
    expect(pro.refused[0].limit).toBe(20);
    expect(pro.refused[0].retryAfter).toBeLessThanOrEqual(0.05);
    await closeAll(limits);
  });

  test("buckets refill at the rate up to the burst, and vanish when full", async () => {
    const [a, b] = await entries("s2:");
    expect((await burst([a, b], "demo", 12)).admitted).toBe(10);
    const refused = (await a.check("demo"))!;
    await Bun.sleep(refused.retryAfter * 1000 + 15); // one token back (and not two)
    expect(await b.check("demo")).toBeUndefined();
    expect(await a.check("demo")).toBeDefined();
    const ttl = await admin.pttl("s2:rate:demo");
    expect(ttl).toBeGreaterThan(800); // empty: refills in ~1 s, then needs no key
    expect(ttl).toBeLessThanOrEqual(1001);
    await Bun.sleep(1100);
    expect(await admin.exists("s2:rate:demo")).toBe(0);
    // Full again, but not fuller than the burst.
    expect((await burst([a, b], "demo", 15)).admitted).toBe(10);
    await closeAll([a, b]);
  });

  test("unlimited sessions never call Redis", async () => {
    const evals = async () => {
      const stats = await admin.info("commandstats");
      return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const limits = await entries("s3:");
    await limits[0].check("warm"); // the script is loaded
    const before = await evals();
    for (let i = 0; i < 1000; i++) {
      const answer = limits[i % 2].check("internal");
      expect(answer).toBeUndefined(); // at once, not a promise
    }
    expect(limits[0].tierOf("internal")).toBeUndefined();
    expect(await evals()).toBe(before);
    expect(await admin.exists("s3:rate:internal")).toBe(0);
    await limits[0].check("demo");
    expect(await evals()).toBe(before + 1);
    await closeAll(limits);
  });

  test("a Redis slower than 50 ms: decided locally at once, logged once", async () => {
    const log = memoryLog();
    const [a] = await entries("s4:", [log], 50);
    await admin.call("CLIENT", "PAUSE", "400");
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => a.check("demo")));
    expect(Date.now() - started).toBeLessThan(300); // 50 ms, not the pause
    expect(answers).toEqual([undefined, undefined, undefined, undefined, undefined]); // the local bucket is full
    expect(a.connected).toBe(false); // the next second too: a slow Redis costs one request 50 ms, not each
    for (let i = 0; i < 20; i++) await a.check("demo");
    expect(warnings(log)).toBe(1);
    await eventually(() => (a.connected ? true : undefined), 3000);
    await a.check("demo");
    expect(log.lines.at(-1)).toBe("info redis answering again: rate limits shared across entries");
    await a.close();
  });

  test("Redis stopped: limits per entry, one log line each; restarted: shared again", async () => {
    const logs = [memoryLog(), memoryLog()];
    const [a, b] = await entries("s5:", logs);
    await redis.stop();
    try {
      await eventually(() => (!a.connected && !b.connected ? true : undefined));
      const started = Date.now();
      // Each entry's own bucket: 10 each, 20 in total.
      expect((await burst([a], "demo", 15)).admitted).toBe(10);
      expect((await burst([b], "demo", 15)).admitted).toBe(10);
      expect(Date.now() - started).toBeLessThan(100); // no waiting for Redis
      await Bun.sleep(1500); // several failed reconnects
      for (let i = 0; i < 50; i++) await a.check("other");
      expect(logs.map(warnings)).toEqual([1, 1]);
    } finally {
      await redis.start(); // empty: nothing persisted
    }
    await eventually(() => (a.connected && b.connected ? true : undefined), 10_000);
    expect((await burst([a, b], "again", 30)).admitted).toBe(10);
    for (const log of logs) expect(log.lines.at(-1)).toBe("info redis answering again: rate limits shared across entries");
    expect(logs.map(warnings)).toEqual([1, 1]);
    await closeAll([a, b]);
  }, 30_000);

  test.each(["bun", "deno"] as const)("runs under %s: two limiters admit 10 of 30", async (runtime) => {
    const run = await runToEnd(runtime, "src/cluster/shared-rate-limits-probe.ts", [], {
      REDIS_URL: redis.url,
      PREFIX: `s6-${runtime}:`,
      CHECKS: "200",
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.runtime.toLowerCase()).toStartWith(runtime);
    expect(result.admitted).toBe(10);
    expect(result.refused.limit).toBe(10);
  }, 30_000);
});
