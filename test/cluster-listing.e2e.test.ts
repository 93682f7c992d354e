/**
 * The cluster listing (/api/sessions, /metrics, both unauthenticated without
 * DASHBOARD_TOKEN) on a Redis that also holds many keys of other
 * applications: it reads the directory's own index, so what a listing costs
 * does not grow with the keyspace, and it never SCANs it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { type Entry, startClient, startEntry, stopAll } from "./helpers/processes.ts";
import { hasRedis, startRedis, type TestRedis } from "./helpers/redis-server.ts";
import { startTarget } from "./helpers/target-server.ts";
import { eventually } from "./helpers/wait.ts";

const UNRELATED_KEYS = 200_000;
const LISTINGS = 10;

if (!hasRedis) console.warn("SKIPPED: redis-server is not installed (apt-get install redis-server); cluster listing tests did not run");

describe.skipIf(!hasRedis)("the cluster listing beside 200k unrelated keys", () => {
  let redis: TestRedis;
  let admin: Redis;
  let target: ReturnType<typeof startTarget>;
  let a: Entry, b: Entry;
  const session = "listed";
  const env = (id: string) => ({ REDIS_URL: redis.url, TUNNEL_PEER_SECRET: "listing-test-secret", TUNNEL_INSTANCE_ID: id });

  /** How many SCAN commands Redis has run since it started. */
  const scans = async () => Number((await admin.info("commandstats")).match(/cmdstat_scan:calls=(\d+)/)?.[1] ?? 0);

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    // Another application's keys, written in one server-side loop (~0.2 s).
    await admin.eval("for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'other-app:cache:' .. i, 'x') end", 0, UNRELATED_KEYS);
    expect(await admin.dbsize()).toBe(UNRELATED_KEYS);
    target = startTarget();
    [a, b] = await Promise.all([startEntry("bun", env("a")), startEntry("deno", env("b"))]);
    await startClient("bun", a, session, `http://127.0.0.1:${target.port}`);
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    target.stop();
    admin.disconnect();
    await redis.stop();
  });

  test("/api/sessions and /metrics list the session and both entries without one SCAN", async () => {
    // The client's hold reaches the directory a moment after it says it is forwarding.
    await eventually(async () => {
      const view = await (await fetch(`http://127.0.0.1:${b.port}/api/sessions`)).json();
      return view.cluster.directory?.sessions[session] ? true : undefined;
    }, 10_000, 50);
    /** Asks `path` of both entries LISTINGS times each: the answers, the SCAN calls, the milliseconds per call. */
    const ask = async (path: string) => {
      const before = await scans();
      const started = performance.now();
      const answers: Response[] = [];
      for (let i = 0; i < LISTINGS; i++) for (const entry of [a, b]) answers.push(await fetch(`http://127.0.0.1:${entry.port}${path}`));
      const ms = (performance.now() - started) / answers.length;
      const scanned = (await scans()) - before;
      console.log(`${path} beside ${UNRELATED_KEYS} keys: ${ms.toFixed(1)} ms and ${scanned / answers.length} SCAN calls per request`);
      return { answers, scanned };
    };
    const listings = await ask("/api/sessions");
    const views = await Promise.all(listings.answers.map((r) => r.json()));
    const metrics = await ask("/metrics");
    expect({ "/api/sessions": listings.scanned, "/metrics": metrics.scanned }).toEqual({ "/api/sessions": 0, "/metrics": 0 });
    for (const view of views) {
      expect(view.cluster.redis).toBe("up");
      expect(view.cluster.directory.sessions).toEqual({ [session]: ["a"] });
      expect(view.cluster.directory.truncated).toBe(false);
      expect(view.cluster.directory.entries.map((e: { id: string }) => e.id)).toEqual(["a", "b"]);
    }
    for (const text of await Promise.all(metrics.answers.map((r) => r.text()))) expect(text).toMatch(/^tunnel2_cluster_entries 2$/m);
  }, 30_000);
});
