/**
 * `tunnel2`: one command for the client and the entry, under Bun or Deno.
 *
 *   tunnel2 http 3000                 expose a local port (or host:port, or a URL)
 *   tunnel2 tcp 22 / tunnel2 tls 8443 expose a TCP service / pass TLS through by name
 *   tunnel2 connect SESSION --listen  reach a TCP tunnel through the entry's HTTP(S)
 *   tunnel2 serve                     run the entry
 *   tunnel2 token NAME                print a session's token (TUNNEL_SECRET)
 *   tunnel2 config …                  save the entry, tokens and tunnels
 *   tunnel2 start                     run every tunnel of the config file
 */
import process from "node:process";
import pkg from "../../package.json" with { type: "json" };
import { anyTarget, CLIENT_OPTIONS, localTarget, PASSWORD_ON_COMMAND_LINE, sessionName, tcpTarget } from "../config/client-options.ts";
import { accessFromFlags, type ClientConfig, clientConfigFrom, ConfigError } from "../config/config.ts";
import { ruleLines, summarize } from "../access/access-rules.ts";
import { type Flags, optionLines, readOption, scanFlags } from "../config/option-table.ts";
import { configPath, type ConfigFile, readConfigFile, writeConfigFile } from "./config-file.ts";
import { randomSessionName } from "./session-name.ts";
import { tokenCommand } from "./token-command.ts";

export const VERSION: string = pkg.version;

const USAGE = `tunnel2 ${VERSION}: expose a local service at a public URL through a tunnel2 entry

Usage:
  tunnel2 http PORT|HOST:PORT|URL [options]   expose a local service
  tunnel2 tcp PORT|HOST:PORT [options]        expose a TCP service (SSH, a database) on a public port
  tunnel2 tls PORT|HOST:PORT [options]        pass TLS through by name: the certificate stays on this machine
  tunnel2 connect SESSION --listen ADDR:PORT  reach a TCP tunnel (a private one too) through the entry's HTTP
  tunnel2 start [options]                     run every tunnel saved in the config file
  tunnel2 serve [entry options]               run the entry (tunnel2 serve --help)
  tunnel2 token SESSION                       print a session's token (needs TUNNEL_SECRET)
  tunnel2 config set-server URL               save the entry to use
  tunnel2 config add-token SESSION -          save a session's token (typed unseen, or piped in)
  tunnel2 config add-tunnel SESSION TARGET    save a tunnel for tunnel2 start (with access options)
  tunnel2 config remove-tunnel SESSION | remove-token SESSION
  tunnel2 config show | path
  tunnel2 --version

Run tunnel2 COMMAND --help for a command's options.`;

type ClientFlags = Flags<typeof CLIENT_OPTIONS.options>;

/** The client options `http` and `start` pass on to each tunnel as given. */
const TUNNEL_FLAGS = ["uplinks", "maxConns", "windowBytes", "logFormat", "logRequests", "inspect", "noInspect"] as const;

/** Who may reach the tunnel: `http` takes the access options; `start` reads each tunnel's from the config file. */
const ACCESS_FLAGS = ["basicAuth", "allowIp", "denyIp", "verifyWebhook", "oidcAllow"] as const;

/** What `tcp` and `tls` take beside the tunnel flags: the TCP options, and the access rules that apply to bytes. */
const TCP_FLAGS = ["remotePort", "private", "proxyProtocol", "allowIp", "denyIp"] as const;
const TLS_FLAGS = ["proxyProtocol", "allowIp", "denyIp"] as const;

/** The entry in `http` and `start`: unlike the client, they fall back on the config file. */
const SERVER_HELP = "the entry (else the config file's; several: tried in turn)";

const HTTP_USAGE = `Usage: tunnel2 http PORT|HOST:PORT|URL [options]
  A port alone (3000) or localhost:PORT reaches the app whether it listens on 127.0.0.1 or ::1.
${
  optionLines(CLIENT_OPTIONS, ["server", "session", "token", ...TUNNEL_FLAGS, ...ACCESS_FLAGS, "webhookSecret"], {
    server: SERVER_HELP,
    session: "session name [a-z0-9-]{1,63} (default: a random one,\nwhich only entries without TUNNEL_SECRET accept)",
    token: "the session's token (default: the config file's;\nprefer  tunnel2 config add-token SESSION -  to typing it here)",
  })
}
Example: tunnel2 config set-server https://tunnel.example.com && tunnel2 http 3000`;

const TCP_USAGE = `Usage: tunnel2 tcp PORT|HOST:PORT [options]
  Visitors connect to a public port of the entry (its --tcp-ports); the session keeps it across reconnects.
${
  optionLines(CLIENT_OPTIONS, ["server", "session", "token", ...TUNNEL_FLAGS, ...TCP_FLAGS, "visitorKey"], {
    server: SERVER_HELP,
    session: "session name [a-z0-9-]{1,63} (default: a random one)",
    token: "the session's token (default: the config file's)",
  })
}
Example: tunnel2 tcp 22, then  ssh -p <the port it prints> <the entry's host>`;

const TLS_USAGE = `Usage: tunnel2 tls PORT|HOST:PORT [options]
  The entry routes TLS connections for <session>.<domain> on its --tls-passthrough-port here, still encrypted:
  the local server holds the certificate and the key.
${
  optionLines(CLIENT_OPTIONS, ["server", "session", "token", ...TUNNEL_FLAGS, ...TLS_FLAGS], {
    server: SERVER_HELP,
    session: "session name [a-z0-9-]{1,63}; the certificate must be for\n<session>.<domain>",
    token: "the session's token (default: the config file's)",
  })
}
Example: tunnel2 tls 8443 --session demo, then  curl https://demo.<domain>:<the entry's TLS port>/`;

const START_USAGE = `Usage: tunnel2 start [options]
  Runs every tunnel of the config file (tunnel2 config add-tunnel SESSION TARGET) in this process.
${optionLines(CLIENT_OPTIONS, ["server", ...TUNNEL_FLAGS], { server: SERVER_HELP })}`;

type Env = Record<string, string | undefined>;

/** The entry: flags, else TUNNEL_SERVER, else the config file; a clear message when none. */
function serverOf(flag: string | undefined, env: Env, file: ConfigFile): string {
  const server = flag ?? (env.TUNNEL_SERVER || file.server);
  if (!server) {
    throw new ConfigError(
      "No entry to connect to: pass --server URL (e.g. --server https://tunnel.example.com), set TUNNEL_SERVER, or save one with  tunnel2 config set-server URL",
    );
  }
  return server;
}

/** A client config for one tunnel: the CLI's words and the config file give the entry, session, token and target. */
function tunnelConfig(target: string, flags: ClientFlags & { server: string; session: string }, env: Env): ClientConfig {
  // Checked first: the error then names the argument as the user typed it.
  anyTarget("target", target);
  // The token goes through memory only: never an argument of another process, never printed.
  return clientConfigFrom({ ...flags, token: flags.token ?? "open", to: target }, env);
}

async function httpCommand(args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(HTTP_USAGE);
  const file = readConfigFile(configPath(env));
  const { flags, rest } = scanFlags(CLIENT_OPTIONS, ["server", "session", "token", ...TUNNEL_FLAGS, ...ACCESS_FLAGS], args);
  const session = sessionName(flags.session ?? (env.TUNNEL_SESSION || randomSessionName()));
  if (flags.token !== undefined) console.error(TOKEN_ON_COMMAND_LINE.replace("SESSION", session));
  if (flags.basicAuth !== undefined) console.error(PASSWORD_ON_COMMAND_LINE);
  const token = flags.token ?? (env.TUNNEL_TOKEN || file.tokens[session]); // an empty variable counts as unset
  const unknown = rest.find((a) => a.startsWith("-"));
  if (unknown) throw new ConfigError(`Unknown option ${unknown} (tunnel2 http --help lists them)`);
  if (rest.length !== 1) {
    throw new ConfigError(
      rest.length === 0 ? "What to expose? e.g.  tunnel2 http 3000  (a port, host:port or URL)" : `One target only, got: ${rest.join(" ")}`,
    );
  }
  localTarget("target", rest[0]); // what the user typed first: a typo there is named before anything else
  const config = tunnelConfig(rest[0], { ...flags, server: serverOf(flags.server, env, file), session, token }, env);
  const { runTunnels } = await import("../wiring/run-client.ts");
  const randomSession = flags.session === undefined && !env.TUNNEL_SESSION;
  await runTunnels([config], { dashboard: true, refusal: { randomSession, noToken: token === undefined } });
}

/** `tunnel2 tcp` and `tunnel2 tls`: `tunnel2 http` for a TCP target. */
async function tcpCommand(kind: "tcp" | "tls", args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(kind === "tcp" ? TCP_USAGE : TLS_USAGE);
  const file = readConfigFile(configPath(env));
  const own = kind === "tcp" ? TCP_FLAGS : TLS_FLAGS;
  const { flags, rest } = scanFlags(CLIENT_OPTIONS, ["server", "session", "token", ...TUNNEL_FLAGS, ...own], args);
  const unknown = rest.find((a) => a.startsWith("-"));
  if (unknown) throw new ConfigError(`Unknown option ${unknown} (tunnel2 ${kind} --help lists them)`);
  if (rest.length !== 1) {
    throw new ConfigError(rest.length === 0 ? `What to expose? e.g.  tunnel2 ${kind} ${kind === "tcp" ? 22 : 8443}  (a port or host:port)` : `One target only, got: ${rest.join(" ")}`);
  }
  const target = `${kind}://${rest[0].trim().replace(/^(tcp|tls):\/\//i, "")}`;
  tcpTarget("target", target, kind); // what the user typed first: a typo there is named before anything else
  const session = sessionName(flags.session ?? (env.TUNNEL_SESSION || randomSessionName()));
  if (flags.token !== undefined) console.error(TOKEN_ON_COMMAND_LINE.replace("SESSION", session));
  const token = flags.token ?? (env.TUNNEL_TOKEN || file.tokens[session]);
  const config = clientConfigFrom({ ...flags, server: serverOf(flags.server, env, file), session, token: token ?? "open", to: target }, env);
  const { runTunnels } = await import("../wiring/run-client.ts");
  const randomSession = flags.session === undefined && !env.TUNNEL_SESSION;
  await runTunnels([config], { dashboard: true, refusal: { randomSession, noToken: token === undefined } });
}

async function startCommand(args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(START_USAGE);
  const path = configPath(env);
  const file = readConfigFile(path);
  const { flags, rest } = scanFlags(CLIENT_OPTIONS, ["server", ...TUNNEL_FLAGS], args);
  const server = serverOf(flags.server, env, file);
  const tunnels = Object.entries(file.tunnels);
  if (tunnels.length === 0) {
    throw new ConfigError(`No tunnels in ${path}: add one with  tunnel2 config add-tunnel SESSION 3000`);
  }
  if (rest.length > 0) throw new ConfigError(`Unexpected ${rest.join(" ")} (tunnel2 start --help)`);
  const missing = tunnels.filter(([session]) => file.tokens[session] === undefined).map(([session]) => session);
  const configs = tunnels.map(([session, tunnel]) => {
    const config = tunnelConfig(tunnel.to, { ...flags, server, session, token: file.tokens[session], remotePort: tunnel.remotePort?.toString() }, env);
    // A tunnel's own rules in the file replace what the environment's access variables say.
    return tunnel.access ? { ...config, access: tunnel.access } : config;
  });
  const { runTunnels } = await import("../wiring/run-client.ts");
  await runTunnels(configs, { dashboard: true, refusal: { noTokenFor: missing } });
}

const TOKEN_ON_COMMAND_LINE =
  "Note: a token on the command line shows in ps, in shell history and in what npm run and deno task print: save it once with  tunnel2 config add-token SESSION -  (or set TUNNEL_TOKEN)";

/**
 * A token from stdin: on a terminal, one line read without echo (so it stays
 * out of the scrollback); else all of stdin (a pipe or a file).
 */
async function readToken(session: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = "";
    for await (const chunk of stdin) text += chunk;
    return text.trim();
  }
  process.stderr.write(`Token of session "${session}" (not shown; Enter when done): `);
  stdin.setRawMode(true);
  let token = "";
  const done = (code?: number) => {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
    if (code !== undefined) process.exit(code);
  };
  for await (const chunk of stdin) {
    for (const ch of String(chunk)) {
      if (ch === "\r" || ch === "\n" || ch === "\x04") {
        done();
        return token.trim();
      }
      if (ch === "\x03") done(130); // Ctrl-C
      if (ch === "\x7f" || ch === "\b") token = token.slice(0, -1);
      else if (ch >= " ") token += ch;
    }
  }
  done();
  return token.trim();
}

const CONFIG_USAGE = `Usage: tunnel2 config ACTION
  set-server URL                          save the entry to use (e.g. https://tunnel.example.com)
  add-token SESSION -                     save a session's token: typed unseen, or piped in
  add-tunnel SESSION TARGET [access options of tunnel2 http --help]
                                          save a tunnel for tunnel2 start
  remove-tunnel SESSION                   forget a saved tunnel
  remove-token SESSION                    forget a saved token
  show                                    print the file (tokens and secrets hidden)
  path                                    print where the file is`;

async function configCommand(args: string[], env: Env): Promise<void> {
  const path = configPath(env);
  const [action, ...rest] = args;
  if (args.includes("--help") || args.includes("-h")) return void console.log(CONFIG_USAGE);
  if (action === undefined) throw new ConfigError(`Missing action: tunnel2 config set-server|add-token|add-tunnel|remove-tunnel|remove-token|show|path\n\n${CONFIG_USAGE}`);
  const arity = (n: number, usage: string) => {
    if (rest.length !== n) throw new ConfigError(`Usage: tunnel2 config ${usage}`);
  };
  switch (action) {
    case "path":
      console.log(path);
      return;
    case "show": {
      const file = readConfigFile(path);
      // Tokens are never printed: only which sessions have one.
      // Nor passwords and webhook secrets: the rules as /api/sessions shows them.
      const tunnels = Object.fromEntries(Object.entries(file.tunnels).map(([s, t]) => [s, t.access ? { ...t, access: summarize(t.access) } : t]));
      const shown = { ...file, tokens: Object.fromEntries(Object.keys(file.tokens).map((s) => [s, "(saved)"])), tunnels };
      console.log(`${path}\n${JSON.stringify(shown, null, 2)}`);
      return;
    }
    case "set-server": {
      arity(1, "set-server URL");
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(rest[0])) {
        throw new ConfigError(`The entry's URL needs its scheme: tunnel2 config set-server https://${rest[0]}  (http:// for an entry without TLS)`);
      }
      readOption(CLIENT_OPTIONS, "server", rest[0]); // checks the URL(s)
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, server: rest[0] });
      console.log(`Saved the entry ${rest[0]} in ${path}`);
      return;
    }
    case "add-token": {
      arity(2, "add-token SESSION -   (the token typed unseen, or piped in; TOKEN in place of - works but shows in ps)");
      const name = sessionName(rest[0]);
      if (rest[1] !== "-") console.error(TOKEN_ON_COMMAND_LINE.replace("SESSION", name));
      const token = rest[1] === "-" ? await readToken(name) : rest[1];
      if (!token) throw new ConfigError("Empty token");
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, tokens: { ...file.tokens, [name]: token } });
      console.log(`Saved the token of session "${name}" in ${path} (readable by you only)`);
      return;
    }
    case "add-tunnel": {
      // Access rules as on tunnel2 http: flags, and secrets from the environment (TUNNEL_BASIC_AUTH, TUNNEL_WEBHOOK_SECRET).
      const scanned = scanFlags(CLIENT_OPTIONS, [...ACCESS_FLAGS, "remotePort"], rest);
      const unknown = scanned.rest.find((a) => a.startsWith("-"));
      if (unknown) throw new ConfigError(`Unknown option ${unknown} (add-tunnel takes the access options of tunnel2 http --help)`);
      const [session, target] = scanned.rest;
      if (scanned.rest.length !== 2) throw new ConfigError("Usage: tunnel2 config add-tunnel SESSION PORT|HOST:PORT|URL [--allow-ip CIDR …]");
      anyTarget("target", target);
      const remotePort = scanned.flags.remotePort === undefined ? undefined : readOption(CLIENT_OPTIONS, "remotePort", scanned.flags.remotePort);
      if (remotePort !== undefined && !/^tcp:\/\//i.test(target)) throw new ConfigError("--remote-port is for TCP tunnels: a target such as tcp://localhost:22");
      if (scanned.flags.basicAuth !== undefined) console.error(PASSWORD_ON_COMMAND_LINE);
      const access = accessFromFlags(scanned.flags, env);
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, tunnels: { ...file.tunnels, [sessionName(session)]: { to: target, ...(remotePort !== undefined ? { remotePort } : {}), ...(access ? { access } : {}) } } });
      console.log(`Saved tunnel "${session}" -> ${target} in ${path}; run them all with  tunnel2 start`);
      for (const line of access ? ruleLines(access) : []) console.log(`  access   ${line}`);
      if (file.tokens[session] === undefined) {
        console.error(
          `No token saved for session "${session}": fine for an entry in open development mode; one with a secret (TUNNEL_SECRET) refuses it. ` +
            `Save it with  tunnel2 config add-token ${session} -  (the entry's operator prints it with  tunnel2 token ${session})`,
        );
      }
      return;
    }
    case "remove-tunnel":
    case "remove-token": {
      arity(1, `${action} SESSION`);
      const file = readConfigFile(path);
      const [key, what] = action === "remove-tunnel" ? ["tunnels", "tunnel"] as const : ["tokens", "token of session"] as const;
      if (!Object.hasOwn(file[key], rest[0])) throw new ConfigError(`No ${what} "${rest[0]}" in ${path}`);
      const { [rest[0]]: _removed, ...kept } = file[key];
      writeConfigFile(path, { ...file, [key]: kept });
      console.log(`Removed ${what} "${rest[0]}" from ${path}`);
      return;
    }
    default:
      throw new ConfigError(
        `Unknown config action ${JSON.stringify(action)}: use one of set-server, add-token, add-tunnel, remove-tunnel, remove-token, show, path (tunnel2 config --help)`,
      );
  }
}

/** Runs the CLI; a ConfigError is printed without a stack and exits 2. */
export async function main(argv: string[], env: Env = process.env): Promise<void> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case "http":
        return await httpCommand(args, env);
      case "tcp":
      case "tls":
        return await tcpCommand(command, args, env);
      case "connect": {
        const { connectCommand } = await import("./connect-command.ts");
        return await connectCommand(args, env);
      }
      case "start":
        return await startCommand(args, env);
      case "serve": {
        const { runEntry } = await import("../wiring/run-entry.ts");
        return await runEntry(args);
      }
      case "token":
        process.exit(await tokenCommand(args));
        return;
      case "config":
        return await configCommand(args, env);
      case "--version":
      case "-v":
      case "version":
        console.log(`tunnel2 ${VERSION}`);
        return;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        console.log(USAGE);
        return;
      default: {
        const hint = /^\d+$/.test(command) ? ` (to expose port ${command}: tunnel2 http ${command})` : "";
        throw new ConfigError(`Unknown command ${JSON.stringify(command)}${hint}\n\n${USAGE}`);
      }
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(2);
  }
}

if (import.meta.main) await main(process.argv.slice(2));
