import { redisErrorText } from "./redis-error-text.ts";
import { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { DirectorySnapshot, Peer } from "../entry/entry-cluster.ts";
import type { SessionDirectory } from "./session-directory.ts";

/** Options for {@linkcode RedisSessionDirectory}. */
export interface RedisDirectoryOptions {
  /** `redis://…` */
  url: string;
  /** This entry. */
  self: Peer;
  log: Logger;
  /** How long an entry's records live without a heartbeat, in ms. Default 10000. */
  ttlMs?: number;
  /** Key prefix, so tests and deployments can share a Redis. Default `tunnel2:`. */
  prefix?: string;
}

/** How long "nobody holds it" is believed (a hold told over pub/sub ends it at once), and for how many names. */
const ABSENT_MS = 1000;
const MAX_ABSENT = 10_000;
/**
 * A command Redis has not answered in this long fails; the directory then
 * counts as unreachable for {@linkcode SUSPECT_MS}, so a Redis that hangs
 * (a partition, a stalled failover) costs one request this wait, not each.
 */
const COMMAND_TIMEOUT_MS = 500;
const SUSPECT_MS = 2000;
/** At most this many entries are listed. */
const MAX_ENTRIES = 10_000;

/**
 * Takes an instance out of a session's holders and out of the sessions it
 * holds, and the session out of the index once nobody holds it any longer,
 * in one step, so a hold written meanwhile by another entry is not lost.
 * KEYS: `session:<name>`, `held:<id>`, `sessions`; ARGV: id, name, now.
 */
const LEAVE = `
redis.call("ZREM", KEYS[1], ARGV[1])
redis.call("SREM", KEYS[2], ARGV[2])
if redis.call("ZCOUNT", KEYS[1], ARGV[3], "+inf") == 0 then redis.call("ZREM", KEYS[3], ARGV[2]) end
`;

/** A change to the directory, told to every entry over pub/sub. */
interface Change {
  op: "hold" | "release";
  session: string;
  id: string;
}

/**
 * The session directory in Redis.
 *
 * - `<prefix>instance:<id>` = the peer URL, with a TTL refreshed by a
 *   heartbeat: an entry that dies drops out within `ttlMs`.
 * - `<prefix>session:<name>` = the instance ids holding the session, as a
 *   sorted set scored by when each one's hold expires (its holder's clock
 *   plus `ttlMs`, refreshed by the same heartbeat): a holder that dies drops
 *   out by itself even while others keep the session, and even if it comes
 *   back under the same id without the session. The key expires when nobody
 *   refreshes it.
 * - `<prefix>held:<id>` = the sessions an entry holds, so that an entry
 *   restarted under the same id (a Fly machine keeps its id) takes itself
 *   out of the sessions it no longer holds at once, not one TTL later.
 * - `<prefix>instances` and `<prefix>sessions` = the index the listing
 *   ({@linkcode RedisSessionDirectory.snapshot}) reads: sorted sets of the
 *   instance ids and of the session names, scored by when their records
 *   expire, written with them, and pruned by each heartbeat. A session
 *   leaves it when its last holder lets go. A listing reads the members not
 *   yet expired, up to its limit, and never scans the keyspace, which Redis
 *   may share with other applications' keys.
 * - `<prefix>changes` carries holds and releases to the other entries, which
 *   keep a local view: a request for a session held elsewhere costs no Redis
 *   round trip once its location is known.
 *
 * When Redis goes away the entry goes on with what it holds itself; the
 * fault is logged once, and everything is written again once it is back.
 */
export class RedisSessionDirectory implements SessionDirectory {
  readonly #self: Peer;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #prefix: string;
  readonly #redis: Redis;
  readonly #subscriber: Redis;
  readonly #held = new Set<string>();
  /** Other entries' sessions: session → instance ids, as last read or told. */
  readonly #view = new Map<string, Set<string>>();
  /** Sessions nobody held when last asked, and until when that answer stands (bounded). */
  readonly #absent = new Map<string, number>();
  /**
   * Peer URLs by instance id, believed until `until` (one TTL): then read
   * again, so an entry that died (its record expired) leaves every view
   * within two TTLs, at one round trip per peer per TTL, not per request.
   */
  readonly #peers = new Map<string, { url: string | null; until: number }>();
  /** Peer records being read again in the background. */
  readonly #refreshing = new Set<string>();
  /** Sessions this entry was wrongly listed for, to take it out of once Redis answers. */
  readonly #disowned = new Set<string>();
  /** Misses being asked of Redis: concurrent requests for one session share the round trip. */
  readonly #asking = new Map<string, Promise<Set<string> | undefined>>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #connected = false;
  #everReady = false;
  /** Until when a command timed out recently (Redis hangs): treated as unreachable. */
  #suspectUntil = 0;
  #faultLogged = false;
  #closed = false;

  constructor(options: RedisDirectoryOptions) {
    this.#self = options.self;
    this.#log = options.log;
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#prefix = options.prefix ?? "tunnel2:";
    const redisOptions = {
      // Commands fail at once while Redis is down (no unbounded offline queue); retries back off to 2 s.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    };
    this.#redis = new Redis(options.url, { ...redisOptions, commandTimeout: COMMAND_TIMEOUT_MS });
    this.#subscriber = new Redis(options.url, { ...redisOptions, enableOfflineQueue: true });
    this.#redis.on("ready", () => this.#onReady());
    this.#redis.on("error", (err: Error) => this.#onFault(err));
    this.#redis.on("end", () => (this.#connected = false));
    this.#subscriber.on("error", () => {}); // the command connection reports faults
    this.#subscriber.on("message", (_channel: string, message: string) => this.#onChange(message));
    this.#subscriber.subscribe(this.#key("changes")).catch(() => {});
    this.#heartbeat = setInterval(() => this.#writeAll(), Math.max(100, Math.floor(this.#ttlMs / 3)));
    (this.#heartbeat as { unref?: () => void }).unref?.();
  }

  get connected(): boolean {
    return this.#connected && Date.now() >= this.#suspectUntil;
  }

  hold(session: string): void {
    if (this.#held.has(session)) return;
    this.#held.add(session);
    if (!this.connected) return; // written on reconnect
    this.#writeSession(session).then(() => this.#publish({ op: "hold", session, id: this.#self.id })).catch((err) => this.#onFault(err));
  }

  release(session: string): void {
    if (!this.#held.delete(session)) return;
    this.#remove(session);
  }

  disown(session: string): void {
    if (this.#held.has(session)) return;
    // Asked before Redis is reachable (just started): done with the next write.
    if (this.connected) this.#remove(session);
    else if (this.#disowned.size < MAX_ABSENT) this.#disowned.add(session);
  }

  forget(session: string, id: string): void {
    const ids = this.#view.get(session);
    ids?.delete(id);
    if (ids?.size === 0) this.#view.delete(session);
  }

  knows(session: string): boolean {
    return this.#view.has(session);
  }

  /** Takes this entry out of a session's holders, and tells the others. */
  #remove(session: string): void {
    if (!this.connected) return;
    const multi = this.#redis.multi();
    this.#leaveIn(multi, session);
    multi.exec()
      .then(() => this.#publish({ op: "release", session, id: this.#self.id }))
      .catch((err: Error) => this.#onFault(err));
  }

  get #heldKey(): string {
    return this.#key(`held:${this.#self.id}`);
  }

  /** At the first connection: leaves the sessions a former life of this instance held and this one does not. */
  async #leaveFormerHolds(): Promise<void> {
    const former = await this.#redis.smembers(this.#heldKey);
    for (const session of former) if (!this.#held.has(session)) this.#remove(session);
  }

  async locate(session: string): Promise<Peer[]> {
    let ids = this.#view.get(session);
    if (!ids) {
      if (!this.connected) return [];
      // Random Hosts must not cost a Redis round trip each: "nobody" is remembered a moment.
      const until = this.#absent.get(session);
      if (until !== undefined && until > Date.now()) return [];
      let asked = this.#asking.get(session);
      if (!asked) {
        asked = this.#holders(session).finally(() => this.#asking.delete(session));
        this.#asking.set(session, asked);
      }
      ids = await asked;
      if (!ids) return [];
    }
    const peers: Peer[] = [];
    const now = Date.now();
    for (const id of ids) {
      let peer = this.#peers.get(id);
      if (peer === undefined) {
        // Never read: this request waits for it (bounded by the command timeout).
        peer = await this.#readPeer(id);
      } else if (peer.until < now) {
        // Read again in the background; meanwhile the URL known is used.
        this.#refreshPeer(id);
      }
      if (peer?.url === null || peer === undefined) ids.delete(id); // its record expired: the entry is gone
      else peers.push({ id, url: peer.url });
    }
    if (ids.size === 0 && this.#view.get(session) === ids) this.#view.delete(session);
    return peers;
  }

  /** The other entries holding `session`, read from Redis into the view; undefined on a fault. */
  async #holders(session: string): Promise<Set<string> | undefined> {
    let ids: Set<string>;
    try {
      ids = new Set(await this.#redis.zrangebyscore(this.#key(`session:${session}`), Date.now(), "+inf"));
    } catch (err) {
      this.#onFault(err as Error);
      return undefined;
    }
    ids.delete(this.#self.id);
    if (ids.size === 0) {
      this.#absent.delete(session);
      if (this.#absent.size >= MAX_ABSENT) this.#absent.delete(this.#absent.keys().next().value!);
      this.#absent.set(session, Date.now() + ABSENT_MS);
      return undefined;
    }
    this.#view.set(session, ids);
    return ids;
  }

  /** Reads a peer's record (its URL, or null when it expired); undefined when Redis cannot answer. */
  async #readPeer(id: string): Promise<{ url: string | null; until: number } | undefined> {
    if (!this.connected) return undefined;
    try {
      const peer = { url: await this.#redis.get(this.#key(`instance:${id}`)), until: Date.now() + this.#ttlMs };
      this.#peers.set(id, peer);
      return peer;
    } catch (err) {
      this.#onFault(err as Error);
      return undefined;
    }
  }

  #refreshPeer(id: string): void {
    if (this.#refreshing.has(id) || !this.connected) return;
    this.#refreshing.add(id);
    this.#readPeer(id).finally(() => this.#refreshing.delete(id));
  }

  async snapshot(limit: number): Promise<DirectorySnapshot | undefined> {
    if (!this.#connected) return undefined;
    try {
      // Read from the index, members not yet expired only: what a listing costs does not depend on the keyspace.
      const now = Date.now();
      const index = this.#redis.multi().zrangebyscore(this.#key("instances"), now, "+inf", "LIMIT", 0, MAX_ENTRIES);
      // limit 0 (/metrics: entries only): the sessions are not read.
      if (limit > 0) index.zrangebyscore(this.#key("sessions"), now, "+inf", "LIMIT", 0, limit + 1);
      const [ids, names = []] = ((await index.exec()) ?? []).map(([err, value]) => {
        if (err) throw err;
        return value as string[];
      });
      const truncated = names.length > limit;
      const listed = names.slice(0, limit);
      const pipeline = this.#redis.pipeline();
      if (ids.length > 0) pipeline.mget(...ids.map((id) => this.#key(`instance:${id}`)));
      for (const name of listed) pipeline.zrangebyscore(this.#key(`session:${name}`), now, "+inf");
      const read = (await pipeline.exec()) ?? [];
      const urls = (ids.length > 0 ? read.shift()?.[1] as (string | null)[] | undefined : undefined) ?? [];
      const entries: Peer[] = [];
      // The record, not the index, says the entry is alive (it is deleted when the entry closes).
      ids.forEach((id, i) => {
        const url = urls[i];
        if (url !== null && url !== undefined) entries.push({ id, url });
      });
      const sessions: Record<string, string[]> = {};
      listed.forEach((name, i) => {
        const holders = read[i]?.[1] as string[] | undefined;
        if (holders && holders.length > 0) sessions[name] = holders.sort();
      });
      entries.sort((a, b) => a.id.localeCompare(b.id));
      return { entries, sessions, truncated };
    } catch (err) {
      this.#onFault(err as Error);
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    if (this.#connected) {
      try {
        const multi = this.#redis.multi();
        for (const session of this.#held) this.#leaveIn(multi, session);
        multi.zrem(this.#key("instances"), this.#self.id);
        multi.del(this.#key(`instance:${this.#self.id}`), this.#heldKey);
        await multi.exec();
        for (const session of this.#held) await this.#publish({ op: "release", session, id: this.#self.id });
      } catch {
        // Redis gone: the records expire by TTL
      }
    }
    this.#held.clear();
    this.#redis.disconnect();
    this.#subscriber.disconnect();
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`;
  }

  #onReady(): void {
    if (!this.#everReady) {
      this.#everReady = true;
      this.#leaveFormerHolds().catch((err: Error) => this.#onFault(err));
    }
    if (this.#faultLogged) this.#log.info("redis reachable again: re-registering sessions", { held: this.#held.size });
    this.#connected = true;
    this.#faultLogged = false;
    // What we were told while away may be stale: start the view afresh.
    this.#view.clear();
    this.#absent.clear();
    this.#peers.clear();
    this.#writeAll();
  }

  #onFault(err: Error): void {
    if (this.#redis.status !== "ready") this.#connected = false;
    else if (/timed? ?out/i.test(err.message)) this.#suspectUntil = Date.now() + SUSPECT_MS;
    if (this.#faultLogged || this.#closed) return;
    this.#faultLogged = true;
    this.#log.warn("redis unreachable: serving local sessions only, retrying", { error: redisErrorText(err) });
  }

  /** Writes this entry's record and every session it holds, with fresh TTLs. */
  #writeAll(): void {
    if (!this.#connected || this.#closed) return;
    const multi = this.#redis.multi();
    this.#recordIn(multi);
    for (const session of this.#held) this.#holdIn(multi, session);
    for (const session of this.#disowned) if (!this.#held.has(session)) this.#leaveIn(multi, session);
    this.#disowned.clear();
    // Once per heartbeat, not per session: the index forgets what expired (a listing skips it meanwhile).
    const now = Date.now();
    multi.zremrangebyscore(this.#key("instances"), "-inf", now);
    multi.zremrangebyscore(this.#key("sessions"), "-inf", now);
    multi.exec().then(() => (this.#suspectUntil = 0), (err: Error) => this.#onFault(err));
  }

  async #writeSession(session: string): Promise<void> {
    const multi = this.#redis.multi();
    this.#recordIn(multi);
    this.#holdIn(multi, session);
    await multi.exec();
  }

  /** Adds to `multi` this entry's record and its place in the index, until one TTL from now. */
  #recordIn(multi: ReturnType<Redis["multi"]>): void {
    multi.set(this.#key(`instance:${this.#self.id}`), this.#self.url, "PX", this.#ttlMs);
    multi.zadd(this.#key("instances"), Date.now() + this.#ttlMs, this.#self.id);
    multi.pexpire(this.#key("instances"), this.#ttlMs);
  }

  /** Adds to `multi` this entry's hold of `session` until one TTL from now, dropping holds that ran out. */
  #holdIn(multi: ReturnType<Redis["multi"]>, session: string): void {
    const key = this.#key(`session:${session}`);
    const now = Date.now();
    multi.zadd(key, now + this.#ttlMs, this.#self.id);
    multi.zremrangebyscore(key, "-inf", now);
    multi.pexpire(key, this.#ttlMs);
    multi.zadd(this.#key("sessions"), now + this.#ttlMs, session);
    multi.pexpire(this.#key("sessions"), this.#ttlMs);
    multi.sadd(this.#heldKey, session);
    multi.pexpire(this.#heldKey, this.#ttlMs);
  }

  /** Adds to `multi` this entry's leaving of `session` (see {@linkcode LEAVE}). */
  #leaveIn(multi: ReturnType<Redis["multi"]>, session: string): void {
    multi.eval(LEAVE, 3, this.#key(`session:${session}`), this.#heldKey, this.#key("sessions"), this.#self.id, session, Date.now());
  }

  async #publish(change: Change): Promise<void> {
    await this.#redis.publish(this.#key("changes"), JSON.stringify(change));
  }

  #onChange(message: string): void {
    let change: Change;
    try {
      change = JSON.parse(message);
    } catch {
      return;
    }
    if (change.id === this.#self.id || typeof change.session !== "string") return;
    const ids = this.#view.get(change.session);
    if (change.op === "hold") {
      // Only sessions already in the view are kept fresh; others are read on their first request.
      this.#absent.delete(change.session);
      ids?.add(change.id);
    } else if (ids) {
      ids.delete(change.id);
      if (ids.size === 0) this.#view.delete(change.session);
    }
  }
}
