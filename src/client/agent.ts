import { CloseCode } from "../protocol/constants.ts";
import type { ClientConfig } from "../config.ts";
import type { Logger } from "../log.ts";
import { backoffDelay } from "./backoff.ts";
import type { ClientRuntime } from "./client-runtime.ts";
import { ConcurrencyLimiter } from "./concurrency-limiter.ts";
import { connectUrl, runUplink } from "./uplink-connection.ts";

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
export function startAgent(config: ClientConfig, runtime: ClientRuntime, log: Logger, events: AgentEvents): { stop(): void } {
  const deps = {
    target: config.target,
    fetchTarget: runtime.createTargetFetch(config.maxConnections),
    limiter: new ConcurrencyLimiter(config.maxConnections),
    openWebSocket: (url: string) => runtime.openWebSocket(url),
  };
  let stopped = false;
  let announced = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const keepUp = async (index: number) => {
    let attempt = 0;
    while (!stopped) {
      const started = Date.now();
      const end = await runUplink(config, deps, (welcome) => {
        log.info("uplink connected", { uplink: index + 1, id: welcome.uplinkId });
        if (!announced) {
          announced = true;
          events.onReady(welcome.url);
        }
      });
      if (stopped) return;
      if (end.code === CloseCode.Unauthorized) {
        stopped = true;
        events.onRefused(end.reason || "session refused");
        return;
      }
      if (end.goAway || (end.welcomed && Date.now() - started > HEALTHY_AFTER_MS)) attempt = 0;
      const delay = backoffDelay(attempt++);
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
      for (const timer of timers) clearTimeout(timer);
    },
  };
}
