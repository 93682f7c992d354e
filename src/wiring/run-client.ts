/**
 * Runs one or more tunnels (`tunnel2 http`, `tunnel2 start`, `bun run
 * src/client.ts`) until Ctrl-C: prints each public URL once connected, keeps
 * a status line on a terminal, and on SIGINT/SIGTERM closes every uplink
 * normally (1000) before exiting.
 */
import process from "node:process";
import { type AgentStatus, startAgent } from "../client/agent.ts";
import type { ClientRuntime } from "../runtime/client-runtime.ts";
import { uplinksOn } from "../client/server-choice.ts";
import { targetAnswers } from "../client/local-target.ts";
import type { ClientConfig } from "../config/config.ts";
import { ruleLines, summarize } from "../access/access-rules.ts";
import { createLogger, escapeControls } from "../log.ts";
import { runtimeName } from "../runtime/runtime-name.ts";

async function loadRuntime(): Promise<ClientRuntime> {
  return runtimeName() === "bun"
    ? (await import("../adapter/bun/target-fetch.ts")).bunClientRuntime
    : (await import("../adapter/deno/target-fetch.ts")).denoClientRuntime;
}

/** A live status line on a terminal: uplinks and their entries, requests/s, p50/p99, last error (each tunnel's, joined). */
function startStatusLine(statuses: () => { session: string; status: AgentStatus }[]): void {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : "—");
  const timer = setInterval(() => {
    const all = statuses();
    const line = all.map(({ session, status: s }) =>
      `${all.length > 1 ? `${session}: ` : ""}uplinks ${s.uplinksUp}/${s.uplinksWanted}${uplinksOn(s.uplinkServers)} · ` +
      `${s.rps.toFixed(1)} req/s (last min) · p50 ${ms(s.p50)} · p99 ${ms(s.p99)} · last error: ${s.lastError ?? "none"}`
    ).join(" | ");
    process.stdout.write(`\r\x1b[2K${escapeControls(line)}`);
  }, 1000);
  (timer as { unref?: () => void }).unref?.();
}

/** Where a target is, as printed: its origin and path. */
function targetText(config: ClientConfig): string {
  const base = `${config.target.origin}${config.target.pathname.replace(/\/$/, "")}`;
  return config.localPort ? `${base} (or [::1]:${config.target.port}, whichever answers)` : base;
}

/** Runs `configs` (one per session) in this process until a signal stops them. */
export async function runTunnels(configs: ClientConfig[], options: { dashboard?: boolean } = {}): Promise<void> {
  const format = configs[0].logFormat;
  const log = createLogger(format);
  const runtime = await loadRuntime();
  const agents: { session: string; agent: ReturnType<typeof startAgent> }[] = [];
  const inspect = configs[0].inspect;
  let inspector: Awaited<ReturnType<typeof openInspector>>;
  try {
    inspector = await openInspector(runtime, inspect);
  } catch (err) {
    // An address the user chose is theirs to fix; the default one taken only turns the inspector off.
    if (inspect?.explicit) {
      console.error(escapeControls((err as Error).message));
      process.exit(2);
    }
    log.warn(`request inspector off: ${(err as Error).message}`);
  }
  if (inspector?.beyondLoopback && inspect) {
    log.warn(`the request inspector listens on ${inspect.hostname}, not loopback only: it asks for the token in its URL below (keep it to yourself: with it, anyone who reaches the port sees every request through the tunnel and can replay it)`);
  }
  let ready = 0;
  for (const config of configs) {
    const agent = startAgent(config, runtime, log, {
      onReady(url) {
        const to = targetText(config);
        // The URL and refusal reasons come from the entry: never written to the terminal raw.
        if (format === "json") {
          console.log(escapeControls(JSON.stringify({
            time: new Date().toISOString(),
            level: "info",
            msg: "forwarding",
            url,
            to,
            ...(inspector && { inspector: inspector.url }),
            ...(config.access && { access: summarize(config.access) }),
          })));
        } else {
          console.log(escapeControls(`Forwarding ${url} -> ${to}`));
          for (const line of config.access ? ruleLines(config.access) : []) console.log(escapeControls(`  access   ${line}`));
          if (inspector && ready === 0) console.log(`Inspector  ${inspector.url}  (every request, and Replay)`);
          if (options.dashboard) console.log(escapeControls(`Dashboard  ${config.servers[0].origin}/  (the entry's)`));
        }
        targetAnswers(config.target, config.localPort).then((up) => {
          if (!up) {
            log.warn(`nothing answers at ${to} yet: the tunnel is up, and visitors get 502 until the app listens`);
          }
        });
        if (++ready === configs.length && format === "text" && process.stdout.isTTY) {
          console.log("Ctrl-C to stop");
          startStatusLine(() => agents.map(({ session, agent }) => ({ session, status: agent.status() })));
        }
      },
      onRefused(reason) {
        console.error(`${escapeControls(`Refused by the entry: ${reason}`)}${refusalHint(reason, config)}`);
        process.exit(1);
      },
    }, inspector?.inspector);
    agents.push({ session: config.session, agent });
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return; // one Ctrl-C may arrive twice (from the terminal and from a task runner)
    stopping = true;
    if (process.stdout.isTTY && format === "text") process.stdout.write("\r\x1b[2K");
    await Promise.race([Promise.all(agents.map(({ agent }) => agent.stop())), new Promise((r) => setTimeout(r, 1500))]);
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

/** The request inspector, unless turned off; loaded only when on. */
async function openInspector(runtime: ClientRuntime, address: ClientConfig["inspect"]) {
  if (!address) return undefined;
  const { startInspector } = await import("./start-inspector.ts");
  return startInspector(runtime, address);
}

/** What to do about a refusal, when we can tell. */
function refusalHint(reason: string, config: ClientConfig): string {
  if (/invalid token/i.test(reason)) {
    // The session name is checked ([a-z0-9-]): safe to print as it is.
    return `\n  This entry needs the session's token: save it with  tunnel2 config add-token ${config.session} -  (its operator prints it with  tunnel2 token ${config.session})`;
  }
  return "";
}
