import type { TunnelKind } from "../protocol/head.ts";
import { pipeSocket, type ByteSocket, type SocketPipe } from "../mux/socket-pipe.ts";
import type { EntryConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import type { RefusalReason } from "../access/access-policy.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { RateLimiter } from "./rate-limits.ts";
import type { Uplink } from "./uplink.ts";
import { TcpPorts } from "./tcp-ports.ts";
import { constantTimeEqualText } from "../access/constant-time.ts";

/** A visitor's connection to a TCP or TLS tunnel: a TCP socket, or a WebSocket of `tunnel2 connect`. */
export interface VisitorConnection extends ByteSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Where it arrived (`ADDR:PORT`), for the PROXY protocol header's destination. */
  readonly arrived: string;
  /** From now on its events go to `pipe`. */
  attach(pipe: SocketPipe): void;
}

/** A session's TCP connections, as /metrics, /api/sessions and the dashboard show them. */
export interface TcpSessionStats {
  open: number;
  total: number;
  /** Bytes from visitors to the target, and back. */
  bytesIn: number;
  bytesOut: number;
}

/** How a connection reaches a session: a public TCP port, the TLS port by name, or `tunnel2 connect`. */
export type Arrival = "port" | "tls" | "connect";

/** What a TCP or TLS tunnel's hello is answered with: its public URL, or why not. */
export type TunnelClaim = { url: string; port?: number } | { refused: string };

/**
 * The entry's side of TCP and TLS tunnels: gives a tunnel its public port
 * (or name) at its hello, and admits each visitor connection (the session's
 * IP rules, its rate, its connection bound, draining) before carrying it
 * over a stream of one of the session's uplinks.
 */
export class TcpFront {
  readonly ports: TcpPorts | undefined;
  #config: EntryConfig;
  #registry: SessionRegistry;
  #state: { draining: boolean };
  #rateLimits: () => RateLimiter | undefined;
  #refused: (session: string, reason: RefusalReason) => void;
  #log: Logger;
  #stats = new Map<string, TcpSessionStats>();
  #perUplink = new Map<Uplink, number>();
  /** The entry's public host, and where `tunnel2 connect` reaches it. */
  #publicHost: () => string;
  #connectUrl: (session: string) => string;

  constructor(deps: {
    config: EntryConfig;
    registry: SessionRegistry;
    state: { draining: boolean };
    /** Read per connection: joining a cluster swaps in shared limits. */
    rateLimits: () => RateLimiter | undefined;
    refused: (session: string, reason: RefusalReason) => void;
    log: Logger;
    publicHost: () => string;
    connectUrl: (session: string) => string;
  }) {
    this.#config = deps.config;
    this.#registry = deps.registry;
    this.#state = deps.state;
    this.#rateLimits = deps.rateLimits;
    this.#refused = deps.refused;
    this.#log = deps.log;
    this.#publicHost = deps.publicHost;
    this.#connectUrl = deps.connectUrl;
    this.ports = deps.config.tcpPorts ? new TcpPorts(deps.config.tcpPorts, deps.config.tcpPortGraceMs) : undefined;
  }

  /** A hello asks for a TCP or TLS tunnel: its public address, or why this entry cannot serve it. */
  claim(session: string, tunnel: TunnelKind, taken?: (port: number) => boolean): TunnelClaim {
    const host = this.#publicHost();
    if (tunnel.kind === "tls") {
      const port = this.#config.tlsPassthroughPort;
      if (port === undefined) return { refused: "This entry serves no TLS tunnels: its operator can turn them on with --tls-passthrough-port" };
      return { url: `tls://${session}.${this.#config.domain}${port === 443 ? "" : `:${port}`}` };
    }
    if (tunnel.private) return { url: this.#connectUrl(session) };
    if (!this.ports) return { refused: "This entry serves no TCP tunnels: its operator can turn them on with --tcp-ports START-END" };
    const current = this.ports.portOf(session);
    if (current !== undefined && tunnel.port !== undefined && tunnel.port !== current && this.#registry.get(session)) {
      return { refused: `Session "${session}" already has port ${current} here (another client of it is connected): ask for ${current}, or leave out --remote-port` };
    }
    const port = this.ports.claim(session, tunnel.port, taken);
    if (typeof port === "string") return { refused: port };
    return { url: `tcp://${host}:${port}`, port };
  }

  /** An uplink left: when it was the session's last, its port starts its grace. */
  left(uplink: Uplink): void {
    if (!this.#registry.get(uplink.session)) this.ports?.release(uplink.session);
  }

  /** TCP connections open over `uplink` (the drain does not wait for them: they never end by themselves). */
  openOn(uplink: Uplink): number {
    return this.#perUplink.get(uplink) ?? 0;
  }

  /** Whether an uplink of `session` is on this entry. */
  held(session: string): boolean {
    return this.#registry.get(session) !== undefined;
  }

  stats(session: string): TcpSessionStats | undefined {
    return this.#stats.get(session);
  }

  /** Sessions with TCP figures. */
  allStats(): [string, TcpSessionStats][] {
    return [...this.#stats.entries()];
  }

  /**
   * Admits a visitor's connection to `session` and carries it; resolves with
   * why it was refused (the connection is then reset), or undefined once it
   * is carried. `key` is what a `tunnel2 connect` visitor presented.
   */
  async connect(session: string, visitor: VisitorConnection, arrival: Arrival, key?: string, admitted?: Uplink): Promise<string | undefined> {
    visitor.pause();
    let why = admitted?.accepting ? admitted : await this.admit(session, visitor, arrival, key);
    if (typeof why !== "string" && !why.accepting) why = `no uplink of session "${session}" takes new connections`;
    if (typeof why === "string") {
      this.#log.info("tcp connection refused", { session, visitor: visitor.remoteAddress, reason: why });
      visitor.reset();
      return why;
    }
    const uplink = why;
    const stream = uplink.mux!.open({
      method: "CONNECT",
      target: "/",
      headers: [["visitor", join(visitor.remoteAddress, visitor.remotePort)], ["arrived", visitor.arrived]],
      tcp: true,
    }, false);
    let stats = this.#stats.get(session);
    if (!stats) this.#stats.set(session, stats = { open: 0, total: 0, bytesIn: 0, bytesOut: 0 });
    const counted = stats;
    counted.open++;
    counted.total++;
    this.#perUplink.set(uplink, (this.#perUplink.get(uplink) ?? 0) + 1);
    const pipe = pipeSocket(stream, visitor, (direction, n) => {
      if (direction === "read") counted.bytesIn += n;
      else counted.bytesOut += n;
    });
    visitor.attach(pipe);
    visitor.resume();
    pipe.done.then(() => {
      counted.open--;
      const left = (this.#perUplink.get(uplink) ?? 1) - 1;
      if (left > 0) this.#perUplink.set(uplink, left);
      else this.#perUplink.delete(uplink);
      if (counted.open === 0 && !this.#registry.get(session)) this.#stats.delete(session);
    });
    return undefined;
  }

  /** Whether the visitor may have a connection, and over which uplink; else why not. */
  async admit(session: string, visitor: { remoteAddress: string }, arrival: Arrival, key: string | undefined): Promise<Uplink | string> {
    if (this.#state.draining) return "the entry is shutting down";
    const held = this.#registry.get(session);
    const tunnel = held?.newest.tunnel;
    if (!held || !tunnel) return held ? `session "${session}" is an HTTP tunnel` : `no tunnel client is connected for session "${session}"`;
    if (arrival === "tls" && tunnel.kind !== "tls") return `session "${session}" is not a TLS tunnel`;
    if (arrival === "port" && (tunnel.kind !== "tcp" || tunnel.private)) return `session "${session}" has no public port`;
    if (tunnel.private && arrival === "connect" && !(key !== undefined && constantTimeEqualText(await sha256Hex(key), tunnel.visitorKey!))) {
      return "wrong or missing visitor key";
    }
    const policy = held.newest.access;
    const refusal = policy?.addressRefusal(visitor.remoteAddress);
    if (refusal) {
      this.#refused(session, refusal);
      return `the tunnel's IP rules refuse ${visitor.remoteAddress}`;
    }
    const limits = this.#rateLimits();
    if (limits) {
      const decision = await limits.check(session);
      if (decision) return `over the session's rate of ${decision.limit} per second`;
    }
    if (this.#registry.activeStreams(session) >= this.#config.maxStreamsPerSession) return `too many connections (MAX_STREAMS_PER_SESSION ${this.#config.maxStreamsPerSession})`;
    const uplink = this.#registry.pick(session);
    return uplink ?? `no uplink of session "${session}" takes new connections`;
  }
}

function join(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
