import type { TargetTap } from "./target-tap.ts";
import { CloseCode } from "../protocol/constants.ts";
import type { ClientConfig } from "../config/config.ts";
import type { Logger } from "../log.ts";
import { backoffDelay } from "./backoff.ts";
import type { ClientRuntime } from "../runtime/client-runtime.ts";
import { ConcurrencyLimiter } from "./concurrency-limiter.ts";
import { MemoryMetrics } from "../metrics/entry-metrics.ts";
import { firstServer, nextServer } from "./server-choice.ts";
import { runUplink } from "./uplink-connection.ts";
import { LocalTarget } from "./local-target.ts";
import { permanentFailure, waitingHint } from "./connect-failure.ts";
import type { TcpConnectionRecord } from "./tcp-forwarder.ts";
import { connectTcp } from "../runtime/tcp.ts";

/** The same warning is logged at most once per this interval; the rest are counted. */
const WARN_EVERY_MS = 5_000;

/** A warn that logs each message at most once per WARN_EVERY_MS, saying how many it held back. */
function throttledWarn(log: Logger): (message: string, fields: Record<string, unknown>) => void {
  const last = new Map<string, { at: number; held: number }>();
  return (message, fields) => {
    const now = Date.now();
    const seen = last.get(message);
    if (seen && now - seen.at < WARN_EVERY_MS) {
      seen.held++;
      return;
    }
    log.warn(message, seen?.held ? { ...fields, alsoSince: seen.held } : fields);
    last.set(message, { at: now, held: 0 });
  };
}

/** An uplink that served this long resets its backoff. */
const HEALTHY_AFTER_MS = 30_000;

/** Until the first uplink is welcomed, retries come at most this far apart: the tunnel is up within a second of its entry. */
const WAITING_BACKOFF_CAP_MS = 1_000;

/** Callbacks of {@linkcode startAgent}. */
export interface AgentEvents {
  /** The first uplink was welcomed: the session is live at `url`. */
  onReady(url: string): void;
  /** The entry refused the session for good (bad name or token). */
  onRefused(reason: string): void;
  /** The entry cannot be reached, and waiting will not change that (an untrusted certificate, a name that does not resolve). */
  onGiveUp?(message: string): void;
  /** Told of each request the target answered (or could not): for a request log. */
  onRequest?(request: AnsweredRequest): void;
  /** A TCP or TLS tunnel: told of each connection as it opens (its counts change as bytes flow). */
  onConnection?(record: TcpConnectionRecord): void;
}

/** One request as a request log shows it: ms until the answer's head went back. */
export interface AnsweredRequest {
  method: string;
  path: string;
  status: number;
  ms: number;
}

/** What the agent reports for a status line. */
export interface AgentStatus {
  uplinksUp: number;
  uplinksWanted: number;
  /** Per uplink, the origin of the entry it is connected to; undefined while it is down. */
  uplinkServers: (string | undefined)[];
  rps: number;
  p50: number;
  p99: number;
  /** The last error, and when it happened (ms since the epoch). */
  lastError: { text: string; at: number } | undefined;
}

/**
 * Keeps `config.uplinks` uplinks open, each reconnecting with exponential
 * backoff and full jitter when it drops, moving on to the next of
 * `config.servers` each time (see {@linkcode nextServer}).
 */
export function startAgent(
  config: ClientConfig,
  runtime: ClientRuntime,
  log: Logger,
  events: AgentEvents,
  tap?: TargetTap,
): { stop(): Promise<void>; status(): AgentStatus } {
  const stats = new MemoryMetrics();
  let uplinksUp = 0;
  const uplinkServers: (string | undefined)[] = Array.from({ length: config.uplinks }, () => undefined);
  let lastError: AgentStatus["lastError"];
  // A target named by port: whichever of 127.0.0.1 and ::1 the app listens on.
  const local = config.localPort ? new LocalTarget(config.target) : undefined;
  local?.probe();
  const target = () => local?.url ?? config.target;
  const fetchTarget = runtime.createTargetFetch();
  const deps = {
    get target() {
      return target();
    },
    onTargetUnreachable: () => local?.probe(),
    fetchTarget: tap ? tap.wrapFetch(config.session, target, fetchTarget) : fetchTarget,
    webSocketTap: tap && ((request: Parameters<TargetTap["webSocket"]>[1]) => tap.webSocket(config.session, request)),
    limiter: new ConcurrencyLimiter(config.maxConnections),
    openWebSocket: (url: string, headers: Record<string, string>) => runtime.openWebSocket(url, headers),
    tcp: config.tunnel
      ? {
        get target() {
          return target();
        },
        onTargetUnreachable: () => {
          local?.probe();
          lastError = { text: `target unreachable (${target().host})`, at: Date.now() };
        },
        connect: connectTcp,
        proxyProtocol: config.proxyProtocol,
        warn: throttledWarn(log),
        onConnection: (record: TcpConnectionRecord) => {
          stats.request("client", 200, 0);
          tap?.tcpConnection(config.session, record);
          events.onConnection?.(record);
        },
      }
      : undefined,
    onAnswered: (status: number, ms: number, head: { method: string; target: string }) => {
      stats.request("client", status, ms);
      events.onRequest?.({ method: head.method, path: head.target, status, ms });
      if (status === 502) lastError = { text: `target unreachable (${deps.target.origin})`, at: Date.now() };
    },
    warn: throttledWarn(log),
  };
  let stopped = false;
  let announced = false;
  /** Said once while no uplink was ever welcomed, instead of a warning per attempt. */
  let saidWaiting = false;
  const stopping = new AbortController();
  /** Ends every uplink loop (each closes its uplink normally) and the tunnel's figures. */
  const halt = () => {
    stopped = true;
    stats.close();
    stopping.abort();
  };
  /** Indexes of the entries listed that cannot work by waiting (a name that does not resolve, an untrusted certificate). */
  const unusable = new Set<number>();

  const keepUp = async (index: number) => {
    let choice = firstServer();
    while (!stopped) {
      const server = config.servers[choice.index];
      let welcomedAt: number | undefined;
      const end = await runUplink(config, server, deps, (welcome) => {
        welcomedAt = Date.now();
        uplinksUp++;
        uplinkServers[index] = server.origin;
        log.info("uplink connected", { uplink: index + 1, server: server.origin, id: welcome.uplinkId });
        if (!announced) {
          announced = true;
          // The URL the entry announces: the same session whichever entry it is.
          events.onReady(welcome.url);
        }
      }, stopping.signal);
      if (welcomedAt !== undefined) {
        uplinksUp--;
        uplinkServers[index] = undefined;
      }
      if (stopped) return;
      if (
        end.code === CloseCode.Unauthorized || end.code === CloseCode.AccessRefused || end.code === CloseCode.SessionTaken ||
        end.code === CloseCode.TunnelRefused
      ) {
        // The tunnel ends whole: its other uplinks close normally, none keeps serving a refused tunnel.
        halt();
        events.onRefused(end.reason || "session refused");
        return;
      }
      // Given up only before anything connected, and only once every entry listed is past hoping
      // for: a running tunnel rides out a DNS outage, and one bad name in a list is skipped.
      if (!end.welcomed && end.reason && !announced) {
        const fatal = await permanentFailure(end.reason, server);
        if (fatal) unusable.add(choice.index);
        if (fatal && unusable.size === config.servers.length && !stopped) {
          halt();
          (events.onGiveUp ?? events.onRefused)(fatal);
          return;
        }
      }
      if (stopped) return;
      const next = nextServer(choice, config.servers.length, {
        goAway: end.goAway,
        healthy: welcomedAt !== undefined && Date.now() - welcomedAt > HEALTHY_AFTER_MS,
      });
      choice = next.choice;
      const waiting = !announced && !end.welcomed && !end.goAway && end.code !== CloseCode.TooManyUplinks;
      // One entry that does not answer yet: said once. Several: each move to the next is said, as it tells where the uplinks go.
      const quiet = waiting && config.servers.length === 1;
      const delay = backoffDelay(next.backoffStep, waiting ? { capMs: WAITING_BACKOFF_CAP_MS } : {});
      if (!end.goAway) {
        lastError = { text: `${end.welcomed ? "uplink lost" : "cannot connect"}${end.reason ? `: ${end.reason}` : ` (${end.code})`}`, at: Date.now() };
      }
      if (quiet) {
        if (!saidWaiting) {
          saidWaiting = true;
          const hint = end.reason ? waitingHint(end.reason, server) : undefined;
          log.warn(`waiting for the entry at ${server.origin} to answer; retrying every second until it does${hint ? ` (${hint})` : ""}`, { reason: end.reason || undefined, code: end.code });
        }
      } else {
        const what = end.goAway
          ? "entry going away, opening a new uplink"
          : end.welcomed
          ? "uplink lost, reconnecting"
          : "cannot connect to the entry, retrying";
        log.warn(what, {
          uplink: index + 1,
          server: server.origin,
          ...(config.servers.length > 1 && { next: config.servers[choice.index].origin }),
          code: end.code,
          reason: end.reason || undefined,
          retryInMs: delay,
        });
      }
      // Ends early when the client stops.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          stopping.signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, delay);
        stopping.signal.addEventListener("abort", done, { once: true });
      });
    }
  };
  const loops = Array.from({ length: config.uplinks }, (_, i) => keepUp(i));
  return {
    stop() {
      halt();
      // Each uplink closes with 1000 and waits (at most 500 ms) for the entry's answer.
      return Promise.all(loops).then(() => {});
    },
    status() {
      const recent = stats.recent("client");
      return { uplinksUp, uplinksWanted: config.uplinks, uplinkServers: [...uplinkServers], ...recent, lastError };
    },
  };
}
