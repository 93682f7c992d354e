import type { Uplink } from "./uplink.ts";

/** One session: the uplinks that serve it. */
export interface Session {
  name: string;
  /** In the order they came: the last is the newest. */
  uplinks: Set<Uplink>;
  createdAt: number;
  /**
   * The newest uplink: its client's access rules are the session's, for
   * every request whichever uplink carries it (a client restarted with new
   * rules replaces the old ones at once, never beside them).
   */
  newest: Uplink;
}

/** Told when this entry starts and stops holding a session (its first uplink came, its last one went). */
export interface HoldingEvents {
  held(session: string): void;
  released(session: string): void;
}

/** Which uplinks serve which session, and how new streams pick one. */
export class SessionRegistry {
  #sessions = new Map<string, Session>();
  #events: HoldingEvents | undefined;

  constructor(events?: HoldingEvents) {
    this.#events = events;
  }

  /** From now on tell `events`, first of every session already held. */
  setEvents(events: HoldingEvents): void {
    this.#events = events;
    for (const name of this.#sessions.keys()) events.held(name);
  }

  get(name: string): Session | undefined {
    return this.#sessions.get(name);
  }

  all(): Session[] {
    return [...this.#sessions.values()];
  }

  add(uplink: Uplink): void {
    let session = this.#sessions.get(uplink.session);
    if (!session) {
      session = { name: uplink.session, uplinks: new Set(), createdAt: Date.now(), newest: uplink };
      this.#sessions.set(uplink.session, session);
      this.#events?.held(uplink.session);
    }
    session.uplinks.add(uplink);
    session.newest = uplink;
  }

  remove(uplink: Uplink): void {
    const session = this.#sessions.get(uplink.session);
    if (!session) return;
    session.uplinks.delete(uplink);
    if (session.newest === uplink) {
      let last: Uplink | undefined;
      for (const u of session.uplinks) last = u;
      if (last) session.newest = last;
    }
    if (session.uplinks.size === 0) {
      this.#sessions.delete(uplink.session);
      this.#events?.released(uplink.session);
    }
  }

  /** The session's live uplink with the fewest streams in flight. */
  pick(name: string): Uplink | undefined {
    const session = this.#sessions.get(name);
    if (!session) return undefined;
    let best: Uplink | undefined;
    for (const uplink of session.uplinks) {
      if (!uplink.accepting) continue;
      if (!best || uplink.activeStreams < best.activeStreams) best = uplink;
    }
    return best;
  }

  /** Streams in flight over all of a session's uplinks. */
  activeStreams(name: string): number {
    let n = 0;
    for (const uplink of this.#sessions.get(name)?.uplinks ?? []) n += uplink.activeStreams;
    return n;
  }
}
