/** The public TCP ports an entry hands out (--tcp-ports START-END). */
export interface PortRange {
  start: number;
  end: number;
}

/** Why a session cannot have a port: said to its client, which stops. */
export type PortRefusal = string;

/**
 * Which session holds which public port. A session keeps its port while
 * any of its uplinks is up and for `graceMs` after the last one leaves, so
 * `ssh -p PORT` works again after the laptop wakes; only then may another
 * session get it. Ports are handed out at random, so a port says nothing
 * about how many tunnels there are or which came before.
 */
export class TcpPorts {
  readonly range: PortRange;
  #graceMs: number;
  #byPort = new Map<number, string>();
  #bySession = new Map<string, number>();
  #expiry = new Map<string, ReturnType<typeof setTimeout>>();
  /** Told when a session's port is given up for good (its grace ran out). */
  onReleased: ((session: string, port: number) => void) | undefined;

  constructor(range: PortRange, graceMs: number) {
    this.range = range;
    this.#graceMs = graceMs;
  }

  /** The session holding `port` (live, or in its grace period). */
  sessionAt(port: number): string | undefined {
    return this.#byPort.get(port);
  }

  portOf(session: string): number | undefined {
    return this.#bySession.get(session);
  }

  /**
   * Gives `session` its port: the one it holds, else `wanted` if free, else
   * any free one; `taken(port)` says whether another entry holds a port.
   * The port is the session's until {@linkcode release} and its grace.
   */
  claim(session: string, wanted: number | undefined, taken: (port: number) => boolean = () => false): number | PortRefusal {
    const { start, end } = this.range;
    const held = this.#bySession.get(session);
    if (held !== undefined && (wanted === undefined || wanted === held)) {
      this.#keep(session);
      return held;
    }
    if (wanted !== undefined) {
      if (wanted < start || wanted > end) return `Port ${wanted} is outside this entry's TCP ports (${start}-${end}): ask for one of them, or leave out --remote-port`;
      const owner = this.#byPort.get(wanted);
      if ((owner !== undefined && owner !== session) || (owner === undefined && taken(wanted))) {
        return `Port ${wanted} is taken by another tunnel: ask for another (${start}-${end}), or leave out --remote-port`;
      }
      if (held !== undefined) this.#drop(session);
      this.#give(session, wanted);
      return wanted;
    }
    const size = end - start + 1;
    const first = Math.floor(Math.random() * size);
    for (let i = 0; i < size; i++) {
      const port = start + ((first + i) % size);
      if (!this.#byPort.has(port) && !taken(port)) {
        this.#give(session, port);
        return port;
      }
    }
    return `No TCP port free: all ${size} of this entry's ports (${start}-${end}) are held by tunnels`;
  }

  /** The session's last uplink left: its port stays its own for the grace period. */
  release(session: string): void {
    if (!this.#bySession.has(session)) return;
    clearTimeout(this.#expiry.get(session));
    const timer = setTimeout(() => {
      const port = this.#bySession.get(session);
      this.#drop(session);
      if (port !== undefined) this.onReleased?.(session, port);
    }, this.#graceMs);
    (timer as { unref?: () => void }).unref?.();
    this.#expiry.set(session, timer);
  }

  /** Ports held now, with their sessions. */
  held(): [port: number, session: string][] {
    return [...this.#byPort.entries()];
  }

  close(): void {
    for (const timer of this.#expiry.values()) clearTimeout(timer);
    this.#expiry.clear();
  }

  #keep(session: string): void {
    clearTimeout(this.#expiry.get(session));
    this.#expiry.delete(session);
  }

  #give(session: string, port: number): void {
    this.#byPort.set(port, session);
    this.#bySession.set(session, port);
    this.#keep(session);
  }

  #drop(session: string): void {
    const port = this.#bySession.get(session);
    this.#keep(session);
    this.#bySession.delete(session);
    if (port !== undefined) this.#byPort.delete(port);
  }
}
