import type { Uplink } from "./uplink.ts";

/** One session: the uplinks that serve it. */
export interface Session {
  name: string;
  uplinks: Set<Uplink>;
  createdAt: number;
}

/** Which uplinks serve which session, and how new streams pick one. */
export class SessionRegistry {
  #sessions = new Map<string, Session>();

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
    }
    session.uplinks.add(uplink);
  }

  remove(uplink: Uplink): void {
    const session = this.#sessions.get(uplink.session);
    if (!session) return;
    session.uplinks.delete(uplink);
    if (session.uplinks.size === 0) this.#sessions.delete(uplink.session);
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
