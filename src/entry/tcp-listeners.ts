import { listenTcp, type TcpConnection, type TcpListener } from "../runtime/tcp.ts";
import { MAX_CLIENT_HELLO_BYTES, readServerName } from "../protocol/tls-client-hello.ts";
import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import type { Logger } from "../log.ts";
import type { TcpFront, VisitorConnection } from "./tcp-front.ts";

/** How long a TLS visitor has to send its ClientHello. */
const CLIENT_HELLO_TIMEOUT_MS = 10_000;

/** A TCP socket as a visitor connection: where it arrived is its local address. */
function visitorOf(connection: TcpConnection): VisitorConnection {
  const local = connection.localAddress;
  return Object.assign(connection, { arrived: `${local.includes(":") ? `[${local}]` : local}:${connection.localPort}` });
}

/**
 * The entry's TCP listeners: every port of --tcp-ports (a connection goes
 * to the session holding that port, whichever entry it is on) and the TLS
 * passthrough port (a connection goes to the session its SNI names).
 */
export class TcpListeners {
  #listeners: TcpListener[] = [];

  /** Listens on every configured port; rejects, naming the port, when one cannot be had. */
  static async start(deps: {
    front: TcpFront;
    hostname: string;
    domain: string;
    tlsPort: number | undefined;
    log: Logger;
    /** A connection for a session not held here (a cluster relays it): the default resets it. */
    elsewhere?: (port: number | undefined, session: string | undefined, connection: VisitorConnection) => boolean;
  }): Promise<TcpListeners> {
    const listeners = new TcpListeners();
    const { front, log } = deps;
    const listen = async (port: number, onConnection: (c: TcpConnection) => void) => {
      try {
        listeners.#listeners.push(await listenTcp(deps.hostname, port, onConnection));
      } catch (err) {
        await listeners.close();
        throw new Error(`cannot listen on TCP port ${port} (${(err as Error & { code?: string }).code ?? (err as Error).message}): free it, or pick other --tcp-ports`);
      }
    };
    const range = front.ports?.range;
    for (let port = range?.start ?? 1; range && port <= range.end; port++) {
      const at = port;
      await listen(at, (connection) => {
        const visitor = visitorOf(connection);
        const session = front.ports!.sessionAt(at);
        if (session === undefined && deps.elsewhere?.(at, undefined, visitor)) return;
        if (session === undefined) return visitor.reset();
        front.connect(session, visitor, "port");
      });
    }
    if (deps.tlsPort !== undefined) {
      const suffix = `.${deps.domain}`;
      await listen(deps.tlsPort, async (connection) => {
        const visitor = visitorOf(connection);
        const first = await connection.peek((bytes) => readServerName(bytes).kind !== "more", MAX_CLIENT_HELLO_BYTES, CLIENT_HELLO_TIMEOUT_MS);
        const read = readServerName(first);
        const label = read.kind === "name" && read.name.endsWith(suffix) ? read.name.slice(0, -suffix.length) : undefined;
        if (label === undefined || !SESSION_NAME_PATTERN.test(label)) {
          log.info("tls connection refused", { visitor: visitor.remoteAddress, reason: read.kind === "bad" ? read.why : read.kind === "name" ? `${read.name} is not <session>${suffix}` : "no ClientHello in time" });
          return visitor.reset();
        }
        if (deps.elsewhere && !front.held(label) && deps.elsewhere(undefined, label, visitor)) return;
        front.connect(label, visitor, "tls");
      });
    }
    return listeners;
  }

  /** Stops taking connections (those open go on). */
  async close(): Promise<void> {
    const all = this.#listeners;
    this.#listeners = [];
    await Promise.all(all.map((l) => l.close()));
  }
}
