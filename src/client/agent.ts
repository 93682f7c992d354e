import { CloseCode } from "../protocol/constants.ts";
import type { ClientConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { backoffDelay } from "./backoff.ts";
import type { ClientRuntime } from "./client-runtime.ts";
import { ConcurrencyLimiter } from "./concurrency-limiter.ts";
import { MemoryMetrics } from "../metrics/entry-metrics.ts";
import { connectUrl, runUplink } from "./uplink-connection.ts";

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

/** Callbacks of {@linkcode startAgent}. */
export interface AgentEvents {
  /** The first uplink was welcomed: the session is live at `url`. */
  onReady(url: string): void;
  /** The entry refused the session for good (bad name or token). */
  onRefused(reason: string): void;
}

/**
 * Keeps `config.uplinks` uplinks open to the entry, each reconnecting with
 * exponential backoff and full jitter when it drops.
 */
/** What the agent reports for a status line. */
export interface AgentStatus {
  uplinksUp: number;
  uplinksWanted: number;
  rps: number;
  p50: number;
  p99: number;
  lastError: string | undefined;
}

export function startAgent(
  config: ClientConfig,
  runtime: ClientRuntime,
  log: Logger,
  events: AgentEvents,
): { stop(): void; status(): AgentStatus } {
  const stats = new MemoryMetrics();
  let uplinksUp = 0;
  let lastError: string | undefined;
  const deps = {
    target: config.target,
    fetchTarget: runtime.createTargetFetch(config.maxConnections),
    limiter: new ConcurrencyLimiter(config.maxConnections),
    openWebSocket: (url: string) => runtime.openWebSocket(url),
    onAnswered: (status: number, ms: number) => {
      stats.request("client", status, ms);
      if (status === 502) lastError = `target unreachable (${config.target.origin})`;
    },
    warn: throttledWarn(log),
  };
  let stopped = false;
  let announced = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const keepUp = async (index: number) => {
    let attempt = 0;
    while (!stopped) {
      const started = Date.now();
      let up = false;
      const end = await runUplink(config, deps, (welcome) => {
        up = true;
        uplinksUp++;
        log.info("uplink connected", { uplink: index + 1, id: welcome.uplinkId });
        if (!announced) {
          announced = true;
          events.onReady(welcome.url);
        }
      });
      if (up) uplinksUp--;
      if (stopped) return;
      if (end.code === CloseCode.Unauthorized) {
        stopped = true;
        events.onRefused(end.reason || "session refused");
        return;
      }
      if (end.goAway || (end.welcomed && Date.now() - started > HEALTHY_AFTER_MS)) attempt = 0;
      const delay = backoffDelay(attempt++);
      if (!end.goAway) lastError = `${end.welcomed ? "uplink lost" : "cannot connect"}${end.reason ? `: ${end.reason}` : ` (${end.code})`}`;
      const what = end.goAway
        ? "entry going away, opening a new uplink"
        : end.welcomed
        ? "uplink lost, reconnecting"
        : "cannot connect to the entry, retrying";
      log.warn(what, {
        uplink: index + 1,
        server: connectUrl(config.server),
        code: end.code,
        reason: end.reason || undefined,
        retryInMs: delay,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, delay);
        timers.add(timer);
      });
    }
  };
  for (let i = 0; i < config.uplinks; i++) keepUp(i);
  return {
    stop() {
      stopped = true;
      stats.close();
      for (const timer of timers) clearTimeout(timer);
    },
    status() {
      const recent = stats.recent("client");
      return { uplinksUp, uplinksWanted: config.uplinks, ...recent, lastError };
    },
  };
}
