/**
 * Runs `tunnel2 connect`: a local port whose connections each go to a TCP
 * or TLS tunnel over a WebSocket to the entry, until a signal stops it.
 */
import process from "node:process";
import { createLogger, escapeControls } from "../log.ts";
import { listenTcp } from "../runtime/tcp.ts";
import { carryOverWebSocket, connectRefusal, tcpConnectUrl, visitorHeaders } from "../client/visitor-agent.ts";
import { loadRuntime } from "./run-client.ts";

export interface ConnectOptions {
  session: string;
  server: URL;
  listen: { hostname: string; port: number };
  /** A private tunnel's visitor key (TUNNEL_VISITOR_KEY). */
  key: string | undefined;
  logFormat: "text" | "json";
}

/** Checks the session takes connections (a plain GET: 426 means yes), then listens. Exits 1 on a refusal. */
export async function runConnect(options: ConnectOptions): Promise<void> {
  const log = createLogger(options.logFormat);
  const runtime = await loadRuntime();
  const url = tcpConnectUrl(options.server, options.session);
  const check = new URL(url);
  check.protocol = options.server.protocol;
  let answer: Response;
  try {
    answer = await fetch(check, { headers: visitorHeaders(options.key) });
  } catch (err) {
    console.error(escapeControls(`Cannot reach the entry at ${options.server.origin}: ${(err as Error).message}`));
    process.exit(1);
  }
  if (answer.status !== 426) {
    const text = (await answer.text()).trim();
    console.error(escapeControls(`Cannot connect to session "${options.session}": ${text || connectRefusal(answer.status, options.session)}`));
    process.exit(1);
  }
  await answer.body?.cancel();
  let open = 0;
  const listener = await listenTcp(options.listen.hostname, options.listen.port, async (connection) => {
    open++;
    const ws = runtime.openWebSocket(url, visitorHeaders(options.key));
    const { error } = await carryOverWebSocket(connection, ws);
    open--;
    if (error) {
      const status = Number(/^status (\d{3})$/.exec(error)?.[1]);
      log.warn("connection failed", { session: options.session, error: status ? connectRefusal(status, options.session) : error });
    }
  }).catch((err: Error & { code?: string }) => {
    console.error(`Cannot listen on ${options.listen.hostname}:${options.listen.port} (${err.code ?? err.message}): pick another --listen port`);
    process.exit(1);
  });
  const shown = options.listen.hostname.includes(":") ? `[${options.listen.hostname}]` : options.listen.hostname;
  console.log(escapeControls(`Listening on ${shown}:${listener.port} -> session "${options.session}" at ${options.server.origin}`));
  const stop = () => {
    log.info("stopping", { open });
    listener.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
