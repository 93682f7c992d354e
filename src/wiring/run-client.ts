/**
 * Runs one or more tunnels (`tunnel2 http`, `tunnel2 start`, `bun run
 * src/client.ts`) until Ctrl-C: prints each public URL once connected, keeps
 * a status line on a terminal, and on SIGINT/SIGTERM closes every uplink
 * normally (1000) before exiting.
 */
import process from "node:process";
import { startAgent } from "../client/agent.ts";
import { StatusTerminal } from "./status-terminal.ts";
import { requestLine, statusLines } from "./status-line.ts";
import type { ClientRuntime } from "../runtime/client-runtime.ts";
import { targetAnswers } from "../client/local-target.ts";
import type { ClientConfig } from "../config/config.ts";
import { ruleLines, summarize } from "../access/access-rules.ts";
import { createLogger, escapeControls, withFields } from "../log.ts";
import { runtimeName } from "../runtime/runtime-name.ts";

export async function loadRuntime(): Promise<ClientRuntime> {
  return runtimeName() === "bun"
    ? (await import("../adapter/bun/target-fetch.ts")).bunClientRuntime
    : (await import("../adapter/deno/target-fetch.ts")).denoClientRuntime;
}

/** Where a target is, as printed: its origin and path. */
function targetText(config: ClientConfig): string {
  if (config.tunnel) {
    const host = `${config.target.hostname}:${config.target.port}`;
    return config.localPort ? `${host} (or [::1]:${config.target.port}, whichever answers)` : host;
  }
  const base = `${config.target.origin}${config.target.pathname.replace(/\/$/, "")}`;
  return config.localPort ? `${base} (or [::1]:${config.target.port}, whichever answers)` : base;
}

/** Runs `configs` (one per session) in this process until a signal stops them. */
/** What the command knows that makes a refusal's hint right: no session named (a random one), no token given. */
export interface RefusalContext {
  randomSession?: boolean;
  noToken?: boolean;
  /** Sessions of `tunnel2 start` with no token saved. */
  noTokenFor?: string[];
}

export async function runTunnels(configs: ClientConfig[], options: { dashboard?: boolean; refusal?: RefusalContext } = {}): Promise<void> {
  const format = configs[0].logFormat;
  // On a terminal (text logs): status lines at the bottom, everything else printed above them; elsewhere plain lines.
  const terminal = format === "text" && process.stdout.isTTY
    ? new StatusTerminal(
      { get columns() { return process.stdout.columns; }, write: (text) => void process.stdout.write(text) },
      () => (statusOn ? statusLines(agents.map(({ session, agent }) => ({ session, status: agent.status() })), inspector?.base) : []),
    )
    : undefined;
  let statusOn = false;
  const out = (line: string) => (terminal ? terminal.print(line) : console.log(line));
  const log = createLogger(format, terminal && process.stderr.isTTY ? (line) => terminal.print(line) : undefined);
  const logRequests = configs[0].logRequests ?? (terminal !== undefined);
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
    log.warn(`the request inspector listens on ${inspect.hostname}, not loopback only: keep the token in its URL below to yourself (with it, anyone who reaches the port sees every request through the tunnel and can replay it)`);
  }
  const many = configs.length > 1;
  let ready = 0;
  let gone = 0;
  let dashboardShown = false;
  const showStatus = () => {
    if (statusOn || !terminal || ready === 0 || ready + gone < configs.length) return;
    out("Ctrl-C to stop");
    statusOn = true;
    terminal.redraw();
    const timer = setInterval(() => terminal.redraw(), 1000);
    (timer as { unref?: () => void }).unref?.();
    process.stdout.on("resize", () => terminal.redraw());
  };
  /** One tunnel cannot go on: alone, the process exits 1; among others, they keep running until none is left. */
  const endTunnel = (config: ClientConfig, message: string) => {
    if (!many) {
      terminal?.stop();
      console.error(message);
      process.exit(1);
    }
    const say = (text: string, fields: Record<string, unknown>) =>
      format === "json" ? log.error(text, fields) : terminal ? terminal.print(text) : console.error(text);
    const at = agents.findIndex((a) => a.session === config.session);
    if (at !== -1) agents.splice(at, 1);
    gone++;
    say(`Tunnel "${config.session}" stopped: ${message.replaceAll("\n", "\n  ")}`, { session: config.session });
    if (agents.length === 0) {
      terminal?.stop();
      say(`No tunnel left running (${configs.length} stopped)`, {});
      process.exit(1);
    }
    const running = agents.map((a) => a.session);
    say(`${agents.length} of ${configs.length} tunnels still running: ${running.join(", ")}`, { running });
    showStatus();
  };
  for (const config of configs) {
    const tunnelLog = many ? withFields(log, { session: config.session }) : log;
    const agent = startAgent(config, runtime, tunnelLog, {
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
          out(escapeControls(`Forwarding ${config.tunnel?.private ? `private tunnel "${config.session}"` : url} -> ${to}`));
          if (config.tunnel?.private) {
            const key = config.visitorKeyMade ? `TUNNEL_VISITOR_KEY=${config.visitorKey} ` : "TUNNEL_VISITOR_KEY=… ";
            out(escapeControls(`Visitors   ${key}tunnel2 connect ${config.session} --listen 127.0.0.1:${config.target.port} --server ${config.servers[0].origin}`));
            if (config.visitorKeyMade) out("           (a visitor key made up for this run: set TUNNEL_VISITOR_KEY to keep one)");
          }
          for (const line of config.access ? ruleLines(config.access) : []) out(escapeControls(`  access   ${line}`));
          if (inspector && ready === 0) {
            const moved = inspector.movedFrom === undefined ? "" : `; ${inspector.movedFrom} is taken, maybe by another client`;
            out(`Inspector  ${inspector.url}  (every request, and Replay${moved})`);
          }
          if (options.dashboard && !dashboardShown) out(escapeControls(`Dashboard  ${config.servers[0].origin}/  (the entry's)`));
          dashboardShown ||= options.dashboard === true;
        }
        targetAnswers(config.target, config.localPort).then((up) => {
          if (!up) {
            tunnelLog.warn(`nothing answers at ${to} yet: the tunnel is up, and visitors get 502 until the app listens`);
          }
        });
        ready++;
        showStatus();
      },
      onRequest: logRequests ? (r) => out(requestLine(many ? config.session : undefined, r)) : undefined,
      onGiveUp(message) {
        endTunnel(config, escapeControls(message));
      },
      onRefused(reason) {
        endTunnel(config, refusalMessage(reason, config, options.refusal ?? {}));
      },
    }, inspector?.inspector);
    agents.push({ session: config.session, agent });
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return; // one Ctrl-C may arrive twice (from the terminal and from a task runner)
    stopping = true;
    terminal?.stop();
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

/** The refusal as printed, with what to do about it when we can tell. */
function refusalMessage(reason: string, config: ClientConfig, context: RefusalContext): string {
  const said = escapeControls(`Refused by the entry: ${reason}`);
  if (!/invalid token/i.test(reason)) return said;
  // The session name is checked ([a-z0-9-]): safe to print as it is.
  const name = config.session;
  if (context.randomSession) {
    return `Refused by the entry: it needs a session name and that session's token (it has TUNNEL_SECRET)\n` +
      `  Pick a name:  tunnel2 http PORT --session NAME  with the token its operator prints with  tunnel2 token NAME` +
      `  (save it once with  tunnel2 config add-token NAME -)`;
  }
  if (context.noToken || context.noTokenFor?.includes(name)) {
    return `Refused by the entry: no token for session "${name}", and this entry needs one (it has TUNNEL_SECRET)\n` +
      `  Save it once with  tunnel2 config add-token ${name} -  (its operator prints it with  tunnel2 token ${name})` +
      // tunnel2 start takes each tunnel's token from the config file only.
      (context.noToken ? ", or set TUNNEL_TOKEN" : "");
  }
  return `${said}\n  This entry needs the session's token: save it with  tunnel2 config add-token ${name} -  (its operator prints it with  tunnel2 token ${name})`;
}
