import { CloseCode, FrameKind, MAX_HELLO_BYTES, MAX_WINDOW_BYTES, MIN_WINDOW_BYTES, SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { decodeFrame, encodeFrame } from "../protocol/frame.ts";
import { decodeHello, encodeJson, type Hello, type TunnelKind } from "../protocol/head.ts";
import { ProtocolError } from "../protocol/protocol-error.ts";
import type { FrameSocket } from "../mux/frame-socket.ts";
import { Mux } from "../mux/mux.ts";
import { PeerNotReadingError } from "../mux/frame-writer.ts";
import type { EntryConfig } from "../config/config.ts";
import type { SessionRegistry } from "./session-registry.ts";
import type { UplinkSocketEvents } from "../runtime/entry-runtime.ts";
import type { Logger } from "../log.ts";
import type { EntryMetrics, RejectReason } from "../metrics/entry-metrics.ts";
import { tooManyUplinks } from "./uplink-claim.ts";
import { AccessPolicy } from "../access/access-policy.ts";
import { readAccessRules } from "../access/access-rules.ts";
import type { TcpFront } from "./tcp-front.ts";


let uplinkCounter = 0;

/**
 * One client WebSocket on the entry: handshake first (Hello → Welcome), then
 * a {@linkcode Mux} that the proxy opens streams on.
 */
export class Uplink implements UplinkSocketEvents {
  readonly id = `u${++uplinkCounter}`;
  readonly connectedAt = Date.now();
  session = "";
  mux: Mux | undefined;
  /** The client's fingerprint of its target, and whether it said it is a replica (see the hello). */
  targetTag: string | undefined;
  replica = false;
  /** Who may reach the session through this uplink (its tunnel's rules and the operator's floor); undefined: everyone. */
  access: AccessPolicy | undefined;
  /** A TCP or TLS tunnel's kind (its hello's); undefined: HTTP. */
  tunnel: TunnelKind | undefined;
  /** The public address its welcome announced. */
  url = "";
  #tunnels: TcpFront | undefined;
  #socket: FrameSocket | undefined;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;
  #config: EntryConfig;
  #registry: SessionRegistry;
  #log: Logger;
  #publicUrl: (session: string) => string;
  #authorizedSession: string | undefined;
  #metrics: EntryMetrics;
  #helloSeen = false;
  /** The session a hello asked for (for logs), before it is accepted. */
  #claimed: string | undefined;
  #closed = false;

  constructor(deps: {
    config: EntryConfig;
    registry: SessionRegistry;
    log: Logger;
    publicUrl: (session: string) => string;
    /** The session whose token the upgrade request carried (checkUplinkClaim); undefined in open development mode. */
    authorizedSession: string | undefined;
    metrics: EntryMetrics;
    /** Where TCP and TLS tunnels get their ports; undefined: this entry serves HTTP tunnels only. */
    tunnels?: TcpFront;
  }) {
    this.#tunnels = deps.tunnels;
    this.#metrics = deps.metrics;
    this.#authorizedSession = deps.authorizedSession;
    this.#config = deps.config;
    this.#registry = deps.registry;
    this.#log = deps.log;
    this.#publicUrl = deps.publicUrl;
  }

  /** Whether new streams may go to this uplink. */
  get accepting(): boolean {
    return this.mux !== undefined && !this.mux.closed && !this.mux.goingAway;
  }

  get activeStreams(): number {
    return this.mux?.activeStreams ?? 0;
  }

  onOpen(socket: FrameSocket): void {
    this.#socket = socket;
    this.#helloTimer = setTimeout(() => {
      this.#refuse(CloseCode.ProtocolError, `No hello within ${this.#config.uplinkTimings.helloTimeoutMs / 1000} s`, "hello_timeout");
    }, this.#config.uplinkTimings.helloTimeoutMs);
  }

  onMessage(bytes: Uint8Array): void {
    if (this.mux) {
      this.mux.receive(bytes);
      return;
    }
    try {
      if (this.#helloSeen) throw new ProtocolError("Frame before welcome");
      if (bytes.byteLength > MAX_HELLO_BYTES) {
        throw new ProtocolError(`Hello too large: ${bytes.byteLength} bytes (at most ${MAX_HELLO_BYTES})`);
      }
      const frame = decodeFrame(bytes);
      if (frame.kind !== FrameKind.Hello) throw new ProtocolError(`Expected hello, got frame kind ${frame.kind}`);
      this.#helloSeen = true;
      this.#accept(decodeHello(frame.payload));
    } catch (err) {
      const message = err instanceof ProtocolError ? err.message : `Bad hello: ${(err as Error).message}`;
      this.#refuse(CloseCode.BadFrame, message, "protocol_error");
    }
  }

  onText(): void {
    const err = new ProtocolError("Text message on an uplink");
    if (this.mux) this.mux.protocolError(err);
    else this.#refuse(CloseCode.BadFrame, err.message, "protocol_error");
  }

  onClose(code: number, reason: string): void {
    this.#closed = true;
    clearTimeout(this.#helloTimer);
    if (!this.mux) return;
    this.#registry.remove(this);
    this.#tunnels?.left(this);
    this.mux.close(new Error(`uplink closed (${code}${reason ? ` ${reason}` : ""})`));
    this.#metrics.uplinkClosed(this.session, { bytesToVisitor: this.mux.bytesIn, bytesToTarget: this.mux.bytesOut, stalls: this.mux.stalls });
    this.#log.info("uplink disconnected", { session: this.session, uplink: this.id, code, reason });
  }

  /** Closes the uplink (its streams end at once). */
  close(code: number, reason: string): void {
    this.#socket?.close(code, reason);
    this.mux?.close(new Error(reason));
  }

  #accept(hello: Hello): void {
    clearTimeout(this.#helloTimer);
    this.#claimed = hello.session.slice(0, 63);
    if (!SESSION_NAME_PATTERN.test(hello.session)) {
      this.#refuse(CloseCode.Unauthorized, `Invalid session name: use 1-63 of a-z, 0-9 and -`, "bad_session_name");
      return;
    }
    // With a secret, the token was checked at the upgrade for the session named there.
    if (this.#authorizedSession !== undefined && hello.session !== this.#authorizedSession) {
      this.#refuse(CloseCode.Unauthorized, `Invalid token for session "${hello.session}"`, "bad_token");
      return;
    }
    if (this.#closed) return;
    // Checked at the upgrade too; here it also holds for uplinks upgraded at the same time, and in open mode.
    if ((this.#registry.get(hello.session)?.uplinks.size ?? 0) >= this.#config.maxUplinksPerSession) {
      this.#refuse(CloseCode.TooManyUplinks, tooManyUplinks(hello.session, this.#config.maxUplinksPerSession), "too_many_uplinks");
      return;
    }
    if (!Number.isInteger(hello.window) || hello.window < MIN_WINDOW_BYTES || hello.window > MAX_WINDOW_BYTES) {
      this.#refuse(CloseCode.BadFrame, `Invalid window: ${hello.window}`, "protocol_error");
      return;
    }
    // Two clients of one session with different targets are two apps behind one name: refused unless one says it is a replica.
    const other = [...this.#registry.get(hello.session)?.uplinks ?? []].find((u) =>
      !u.replica && u.targetTag !== undefined && hello.target !== undefined && u.targetTag !== hello.target
    );
    if (other && !hello.replica) {
      this.#refuse(CloseCode.SessionTaken, `Session "${hello.session}" is served by another client with another target: use --replica to share it`, "session_taken");
      return;
    }
    const kindOf = (t: TunnelKind | undefined) => t?.kind ?? "http";
    const heldBy = this.#registry.get(hello.session)?.newest;
    if (heldBy && kindOf(heldBy.tunnel) !== kindOf(hello.tunnel)) {
      this.#refuse(
        CloseCode.SessionTaken,
        `Session "${hello.session}" is served as a ${kindOf(heldBy.tunnel).toUpperCase()} tunnel by another client: use another session name`,
        "session_taken",
      );
      return;
    }
    this.targetTag = hello.target;
    this.replica = hello.replica === true;
    try {
      const own = hello.access === undefined ? undefined : readAccessRules(hello.access);
      this.access = AccessPolicy.compile(hello.session, own, this.#config.policy?.floorFor(hello.session));
      if (this.access && this.access.oidcAllow.length > 0 && !this.#config.signOn) {
        throw new Error("this entry has no sign-on provider (TUNNEL_OIDC_ISSUER) for --oidc-allow");
      }
    } catch (err) {
      this.#refuse(CloseCode.AccessRefused, `Access rules refused: ${(err as Error).message}`, "access_rules");
      return;
    }
    let url = this.#publicUrl(hello.session);
    if (hello.tunnel) {
      const claim = this.#tunnels?.claim(hello.session, hello.tunnel) ??
        { refused: "This entry serves HTTP tunnels only (no --tcp-ports or --tls-passthrough-port)" };
      if ("refused" in claim) {
        this.#refuse(CloseCode.TunnelRefused, claim.refused, "tunnel_refused");
        return;
      }
      url = claim.url;
    }
    this.tunnel = hello.tunnel;
    this.url = url;
    const socket = this.#socket!;
    this.session = hello.session;
    this.mux = new Mux({
      role: "entry",
      socket,
      localWindow: this.#config.windowBytes,
      peerWindow: hello.window,
      onWriterWait: this.#config.metrics ? (ms) => this.#metrics.writerWait(hello.session, ms) : undefined,
      onClose: (err) => {
        if (err instanceof ProtocolError) {
          this.#log.warn("uplink protocol error", { session: this.session, uplink: this.id, error: err.message });
        } else if (err instanceof PeerNotReadingError) {
          this.#log.warn("uplink not reading, closed", { session: this.session, uplink: this.id, error: err.message });
        }
        this.#registry.remove(this);
        this.#tunnels?.left(this);
      },
    });
    this.mux.writer.send(encodeFrame(FrameKind.Welcome, 0, 0, encodeJson({
      url,
      uplinkId: this.id,
      window: this.#config.windowBytes,
    })));
    const held = this.#registry.get(hello.session);
    const before = held?.newest.access;
    const same = before === undefined ? this.access === undefined : before.sameOwnRules(this.access);
    if (held && !same) {
      this.#log.warn("uplink brings other access rules: they now hold for the whole session", { session: hello.session, uplink: this.id });
    }
    this.#registry.add(this);
    this.#log.info("uplink connected", { session: this.session, uplink: this.id });
  }

  #refuse(code: number, reason: string, why: RejectReason): void {
    this.#metrics.uplinkRejected(why);
    clearTimeout(this.#helloTimer);
    this.#log.warn("uplink refused", { uplink: this.id, session: this.#claimed, reason });
    // A close reason is at most 123 bytes, and a rule the tunnel sent may hold any character.
    let cut = reason.slice(0, 120);
    while (new TextEncoder().encode(cut).byteLength > 123) cut = cut.slice(0, -1);
    this.#socket?.close(code, cut);
  }
}
