import { CLIENT_OPTIONS, sessionName } from "../config/client-options.ts";
import { ConfigError } from "../config/config.ts";
import { readOption, scanFlags } from "../config/option-table.ts";
import { configPath, readConfigFile } from "./config-file.ts";

type Env = Record<string, string | undefined>;

export const CONNECT_USAGE = `Usage: tunnel2 connect SESSION --listen [ADDR:]PORT [--server URL]
  Opens a local port; each connection to it goes to the TCP or TLS tunnel SESSION through the entry's
  HTTP(S) (for private tunnels, and where only HTTP reaches the entry).
  --listen [ADDR:]PORT   where to listen (ADDR default 127.0.0.1; port 0: any free one)
  --server URL           the entry (else TUNNEL_SERVER, else the config file's)
  TUNNEL_VISITOR_KEY     a private tunnel's visitor key, from its owner
Example: TUNNEL_VISITOR_KEY=… tunnel2 connect ssh --listen 2222 --server https://tunnel.example.com && ssh -p 2222 localhost`;

/** `--listen`: `PORT`, `ADDR:PORT` or `[IPv6]:PORT`. */
function listenAddress(raw: string): { hostname: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(raw.trim());
  if (!match || Number(match[2]) > 65535) throw new ConfigError(`Invalid --listen: ${JSON.stringify(raw)} (expected PORT or ADDR:PORT, such as 127.0.0.1:2222)`);
  return { hostname: (match[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port: Number(match[2]) };
}

export async function connectCommand(args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(CONNECT_USAGE);
  const listenAt = args.findIndex((a) => a === "--listen" || a.startsWith("--listen="));
  let listen: string | undefined;
  let rest = args;
  if (listenAt !== -1) {
    const given = args[listenAt];
    listen = given.includes("=") ? given.slice(given.indexOf("=") + 1) : args[listenAt + 1];
    rest = args.filter((_, i) => i !== listenAt && (given.includes("=") || i !== listenAt + 1));
  }
  const { flags, rest: words } = scanFlags(CLIENT_OPTIONS, ["server", "logFormat"], rest);
  const unknown = words.find((a) => a.startsWith("-"));
  if (unknown) throw new ConfigError(`Unknown option ${unknown} (tunnel2 connect --help lists them)`);
  if (words.length !== 1) throw new ConfigError(words.length === 0 ? `Which session? ${CONNECT_USAGE}` : `One session only, got: ${words.join(" ")}`);
  if (listen === undefined) throw new ConfigError(`Missing --listen: where visitors' programs connect, e.g. --listen 127.0.0.1:2222`);
  const file = readConfigFile(configPath(env));
  const serverText = flags.server ?? (env.TUNNEL_SERVER || file.server);
  if (!serverText) throw new ConfigError("No entry to connect to: pass --server URL, set TUNNEL_SERVER, or save one with  tunnel2 config set-server URL");
  const servers = readOption(CLIENT_OPTIONS, "server", serverText);
  const { runConnect } = await import("../wiring/run-connect.ts");
  await runConnect({
    session: sessionName(words[0]),
    server: servers[0],
    listen: listenAddress(listen),
    key: env.TUNNEL_VISITOR_KEY || undefined,
    logFormat: readOption(CLIENT_OPTIONS, "logFormat", flags.logFormat ?? env.TUNNEL_LOG_FORMAT),
  });
}
