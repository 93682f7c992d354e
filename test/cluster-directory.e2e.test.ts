/**
 * The Redis session directory against a real redis-server: two entries'
 * views of who holds which session, kept fresh over pub/sub, the listing
 * read from the directory's index, and what happens while Redis is away.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { RedisSessionDirectory } from "../src/cluster/redis-session-directory.ts";
import type { Logger } from "../src/log.ts";
import { hasRedis, startRedis, type TestRedis } from "./helpers/redis-server.ts";
import { type Runtime, spawnUntil } from "./helpers/processes.ts";
import { eventually } from "./helpers/wait.ts";

/** A logger that keeps its lines, to count warnings. */
function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { lines, info: keep("info"), warn: keep("warn"), error: keep("error") };
}

if (!hasRedis) console.warn("SKIPPED: redis-server is not installed (apt-get install redis-server)");

describe.skipIf(!hasRedis)("RedisSessionDirectory()", () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  const directory = (id: string, prefix: string, log = memoryLog()) =>
    new RedisSessionDirectory({ url: redis.url, self: { id, url: `http://${id}.internal:8080` }, log, ttlMs: 600, prefix });

  test("an entry finds the entries holding a session; a release reaches its view over pub/sub", async () => {
    const a = directory("a", "t1:");
    const b = directory("b", "t1:");
    await eventually(() => (a.connected && b.connected ? true : undefined));
    a.hold("demo");
    expect(await eventually(async () => ((await b.locate("demo")).length === 1 ? await b.locate("demo") : undefined))).toEqual([
      { id: "a", url: "http://a.internal:8080" },
    ]);
    expect(await a.locate("demo")).toEqual([]); // itself is not a peer
    a.release("demo");
    await eventually(async () => ((await b.locate("demo")).length === 0 ? true : undefined));
    await a.close();
    await b.close();
  });

  test("a session held on two entries lists both; a closed entry drops out", async () => {
    const a = directory("a", "t2:");
    const b = directory("b", "t2:");
    const c = directory("c", "t2:");
    await eventually(() => (a.connected && b.connected && c.connected ? true : undefined));
    a.hold("demo");
    c.hold("demo");
    await eventually(async () => ((await b.locate("demo")).length === 2 ? true : undefined));
    await a.close();
    await eventually(async () => {
      const peers = await b.locate("demo");
      return peers.length === 1 && peers[0].id === "c" ? true : undefined;
    });
    await b.close();
    await c.close();
  });

  test("Redis away: no throw, nothing located, the fault logged once; back: everything written again", async () => {
    const logA = memoryLog();
    const a = directory("a", "t3:", logA);
    const b = directory("b", "t3:");
    await eventually(() => (a.connected && b.connected ? true : undefined));
    a.hold("demo");
    await eventually(async () => ((await b.locate("demo")).length === 1 ? true : undefined));
    await redis.stop();
    await eventually(() => (!a.connected ? true : undefined));
    a.hold("other");
    expect(await b.locate("nobody")).toEqual([]);
    await Bun.sleep(1500); // several failed heartbeats and retries
    expect(logA.lines.filter((l) => l.startsWith("warn redis unreachable")).length).toBe(1);
    await redis.start(); // empty: nothing persisted
    await eventually(() => (a.connected && b.connected ? true : undefined), 10_000);
    await eventually(async () => ((await b.locate("demo")).length === 1 && (await b.locate("other")).length === 1 ? true : undefined), 5000);
    expect(logA.lines.some((l) => l.startsWith("info redis reachable again"))).toBe(true);
    await a.close();
    await b.close();
  }, 30_000);

  test.each(["bun", "deno"] as Runtime[])("an entry killed with -9 (%s) drops out of the directory within its TTL", async (runtime) => {
    const prefix = `t4-${runtime}:`;
    const script = "test/helpers/directory-holder.ts";
    const cmd = runtime === "bun"
      ? [process.execPath, "run", script]
      : ["node_modules/deno/deno", "run", "--allow-net", "--allow-env", "--allow-read", "--allow-sys", script];
    const holder = await spawnUntil(cmd, { REDIS_URL: redis.url, HOLD: "demo", ID: "gone", PREFIX: prefix, TTL_MS: "600" }, /holding/);
    const b = directory("b", prefix);
    await eventually(async () => ((await b.locate("demo")).length === 1 ? true : undefined));
    holder.proc.kill(9);
    const killed = Date.now();
    // b's own view (it knew the peer) lets go once the dead entry's record expires.
    await eventually(async () => ((await b.locate("demo")).length === 0 ? true : undefined), 5000, 50);
    expect(Date.now() - killed).toBeGreaterThan(300); // not at once: only by expiry
    expect(Date.now() - killed).toBeLessThan(2500); // within about two TTLs of 600 ms
    expect(b.connected).toBe(true);
    await b.close();
  }, 20_000);

  test("snapshot() lists from the index: a release leaves it at once, a holder killed with -9 within its TTL, nothing lingers", async () => {
    const prefix = "t5:";
    const admin = new Redis(redis.url);
    const holder = await spawnUntil(
      [process.execPath, "run", "test/helpers/directory-holder.ts"],
      { REDIS_URL: redis.url, HOLD: "kept", ID: "gone", PREFIX: prefix, TTL_MS: "600" },
      /holding/,
    );
    const b = directory("b", prefix);
    const c = directory("c", prefix);
    await eventually(() => (b.connected && c.connected ? true : undefined));
    b.hold("shared");
    c.hold("shared");
    b.hold("brief");
    const url = (id: string) => `http://${id}.internal:8080`;
    expect(await eventually(async () => {
      const s = await b.snapshot(10);
      return s?.sessions.shared?.length === 2 && s.sessions.brief && s.sessions.kept ? s : undefined;
    })).toEqual({
      entries: [{ id: "b", url: url("b") }, { id: "c", url: url("c") }, { id: "gone", url: url("gone") }],
      sessions: { brief: ["b"], kept: ["gone"], shared: ["b", "c"] },
      truncated: false,
    });
    const one = await b.snapshot(1);
    expect(Object.keys(one!.sessions).length).toBe(1);
    expect(one!.truncated).toBe(true);
    expect((await b.snapshot(0))!.sessions).toEqual({});
    // The last holder of "brief" lets go: out of the index at once; "shared" stays, c still holds it.
    b.release("brief");
    b.release("shared");
    await eventually(async () => ((await admin.zscore(`${prefix}sessions`, "brief")) === null ? true : undefined), 1000);
    expect(await admin.zscore(`${prefix}sessions`, "shared")).not.toBeNull();
    expect((await b.snapshot(10))!.sessions).toEqual({ kept: ["gone"], shared: ["c"] });
    holder.proc.kill(9);
    const killed = Date.now();
    expect(await eventually(async () => {
      const s = await b.snapshot(10);
      return s && !s.sessions.kept && s.entries.length === 2 ? s : undefined;
    }, 5000, 50)).toEqual({ entries: [{ id: "b", url: url("b") }, { id: "c", url: url("c") }], sessions: { shared: ["c"] }, truncated: false });
    expect(Date.now() - killed).toBeLessThan(1500); // within about one TTL of 600 ms (and the next heartbeat prunes the index)
    await b.close();
    await c.close();
    // Nobody left: the index and every record expire with the last heartbeat's TTL.
    await eventually(async () => ((await admin.keys(`${prefix}*`)).length === 0 ? true : undefined), 3000, 50);
    admin.disconnect();
  }, 20_000);
});
