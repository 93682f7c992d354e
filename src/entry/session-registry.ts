import type { Uplink } from "./uplink.ts";

/** One session: the uplinks that serve it. */
export interface Session {
  name: string;
  uplinks: Set<Uplink>;
  createdAt: number;
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
      session = { name: uplink.session, uplinks: new Set(), createdAt: Date.now() };
      this.#sessions.set(uplink.session, session);
      this.#events?.held(uplink.session);
    }
    session.uplinks.add(uplink);
  }

  remove(uplink: Uplink): void {
    const session = this.#sessions.get(uplink.session);
    if (!session) return;
    session.uplinks.delete(uplink);
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
