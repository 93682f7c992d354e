/**
 * `tunnel2`: one command for the client and the entry, under Bun or Deno.
 *
 *   tunnel2 http 3000                 expose a local port (or host:port, or a URL)
 *   tunnel2 serve                     run the entry
 *   tunnel2 token NAME                print a session's token (TUNNEL_SECRET)
 *   tunnel2 config …                  save the entry, tokens and tunnels
 *   tunnel2 start                     run every tunnel of the config file
 */
import process from "node:process";
import pkg from "../../package.json" with { type: "json" };
import { clientConfig, type ClientConfig, ConfigError, localTarget } from "../config/config.ts";
import { SESSION_NAME_PATTERN } from "../protocol/constants.ts";
import { configPath, type ConfigFile, readConfigFile, writeConfigFile } from "./config-file.ts";
import { randomSessionName } from "./session-name.ts";
import { tokenCommand } from "./token-command.ts";

export const VERSION: string = pkg.version;

const USAGE = `tunnel2 ${VERSION}: expose a local service at a public URL through a tunnel2 entry

Usage:
  tunnel2 http PORT|HOST:PORT|URL [options]   expose a local service
  tunnel2 start [options]                     run every tunnel saved in the config file
  tunnel2 serve [entry options]               run the entry (tunnel2 serve --help)
  tunnel2 token SESSION                       print a session's token (needs TUNNEL_SECRET)
  tunnel2 config set-server URL               save the entry to use
  tunnel2 config add-token SESSION -          save a session's token (typed unseen, or piped in)
  tunnel2 config add-tunnel SESSION TARGET    save a tunnel for tunnel2 start
  tunnel2 config remove-tunnel SESSION
  tunnel2 config show | path
  tunnel2 --version

Run tunnel2 COMMAND --help for a command's options.`;

const HTTP_USAGE = `Usage: tunnel2 http PORT|HOST:PORT|URL [options]
  A port alone (3000) or localhost:PORT reaches the app whether it listens on 127.0.0.1 or ::1.
  --server URL[,URL…]  TUNNEL_SERVER   the entry (else the config file's; several: tried in turn)
  --session NAME       TUNNEL_SESSION  session name [a-z0-9-]{1,63} (default: a random one,
                                       which only entries without TUNNEL_SECRET accept)
  --token TOKEN        TUNNEL_TOKEN    the session's token (default: the config file's;
                                       prefer  tunnel2 config add-token SESSION -  to typing it here)
  --uplinks N, --max-conns N, --window-bytes N, --log-format text|json  as for the client
  --inspect ADDR:PORT  TUNNEL_INSPECT  the request inspector (127.0.0.1:4040: every request, and Replay)
  --no-inspect                         no request inspector
Example: tunnel2 config set-server https://tunnel.example.com && tunnel2 http 3000`;

const START_USAGE = `Usage: tunnel2 start [--server URL] [--log-format text|json] [--inspect ADDR:PORT | --no-inspect]
  Runs every tunnel of the config file (tunnel2 config add-tunnel SESSION TARGET) in this process.`;

type Env = Record<string, string | undefined>;

/** Removes `--name value` / `--name=value` from args; returns its value. */
function takeOption(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) {
      const value = args[i + 1];
      if (value === undefined || value.startsWith("--")) throw new ConfigError(`--${name} needs a value`);
      args.splice(i, 2);
      return value;
    }
    if (args[i].startsWith(`--${name}=`)) {
      const value = args[i].slice(name.length + 3);
      args.splice(i, 1);
      return value;
    }
  }
  return undefined;
}

/** Every value of a repeatable option, removed from args. */
function takeAll(args: string[], name: string): string[] {
  const values: string[] = [];
  for (let value = takeOption(args, name); value !== undefined; value = takeOption(args, name)) values.push(value);
  return values;
}

/** The client options passed through as they are (removed from args). */
function clientOptions(args: string[]): string[] {
  const passed: string[] = [];
  for (const name of ["uplinks", "max-conns", "window-bytes", "log-format", "inspect"]) {
    const value = takeOption(args, name);
    if (value !== undefined) passed.push(`--${name}`, value);
  }
  const off = args.indexOf("--no-inspect");
  if (off >= 0) {
    args.splice(off, 1);
    passed.push("--no-inspect");
  }
  return passed;
}

/** The entry: flags, else TUNNEL_SERVER, else the config file; a clear message when none. */
function serverOf(flags: string[], env: Env, file: ConfigFile): string {
  const server = flags.length > 0 ? flags.join(",") : env.TUNNEL_SERVER || file.server;
  if (!server) {
    throw new ConfigError(
      "No entry to connect to: pass --server URL (e.g. --server https://tunnel.example.com), set TUNNEL_SERVER, or save one with  tunnel2 config set-server URL",
    );
  }
  return server;
}

/** A client config for one tunnel, from the CLI's words and the config file. */
function tunnelConfig(target: string, session: string, server: string, token: string | undefined, rest: string[], env: Env): ClientConfig {
  // Checked first: the error then names the argument as the user typed it.
  localTarget("target", target);
  // The token goes through memory only: never an argument of another process, never printed.
  return clientConfig(["--server", server, "--session", session, "--token", token ?? "open", "--to", target, ...rest], {
    ...env,
    TUNNEL_SERVER: undefined,
    TUNNEL_SESSION: undefined,
    TUNNEL_TOKEN: undefined,
    TUNNEL_TARGET: undefined,
  });
}

async function httpCommand(args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(HTTP_USAGE);
  const file = readConfigFile(configPath(env));
  const servers = takeAll(args, "server");
  const session = takeOption(args, "session") ?? (env.TUNNEL_SESSION || randomSessionName());
  if (!SESSION_NAME_PATTERN.test(session)) {
    throw new ConfigError(`Invalid session name: ${JSON.stringify(session)} (use 1-63 of a-z, 0-9 and -)`);
  }
  const flagToken = takeOption(args, "token");
  if (flagToken !== undefined) console.error(TOKEN_ON_COMMAND_LINE.replace("SESSION", session));
  const token = flagToken ?? (env.TUNNEL_TOKEN || file.tokens[session]); // an empty variable counts as unset
  const rest = clientOptions(args);
  const unknown = args.find((a) => a.startsWith("-"));
  if (unknown) throw new ConfigError(`Unknown option ${unknown} (tunnel2 http --help lists them)`);
  if (args.length !== 1) {
    throw new ConfigError(
      args.length === 0 ? "What to expose? e.g.  tunnel2 http 3000  (a port, host:port or URL)" : `One target only, got: ${args.join(" ")}`,
    );
  }
  const config = tunnelConfig(args[0], session, serverOf(servers, env, file), token, rest, env);
  const { runTunnels } = await import("../wiring/run-client.ts");
  await runTunnels([config], { dashboard: true });
}

async function startCommand(args: string[], env: Env): Promise<void> {
  if (args.includes("--help") || args.includes("-h")) return void console.log(START_USAGE);
  const path = configPath(env);
  const file = readConfigFile(path);
  const server = serverOf(takeAll(args, "server"), env, file);
  const tunnels = Object.entries(file.tunnels);
  if (tunnels.length === 0) {
    throw new ConfigError(`No tunnels in ${path}: add one with  tunnel2 config add-tunnel SESSION 3000`);
  }
  const rest = clientOptions(args);
  if (args.length > 0) throw new ConfigError(`Unexpected ${args.join(" ")} (tunnel2 start --help)`);
  const configs = tunnels.map(([session, tunnel]) => tunnelConfig(tunnel.to, session, server, file.tokens[session], rest, env));
  const { runTunnels } = await import("../wiring/run-client.ts");
  await runTunnels(configs, { dashboard: true });
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

async function configCommand(args: string[], env: Env): Promise<void> {
  const path = configPath(env);
  const [action, ...rest] = args;
  const arity = (n: number, usage: string) => {
    if (rest.length !== n) throw new ConfigError(`Usage: tunnel2 config ${usage}`);
  };
  const session = (name: string) => {
    if (!SESSION_NAME_PATTERN.test(name)) throw new ConfigError(`Invalid session name: ${JSON.stringify(name)} (use 1-63 of a-z, 0-9 and -)`);
    return name;
  };
  switch (action) {
    case "path":
      console.log(path);
      return;
    case "show": {
      const file = readConfigFile(path);
      // Tokens are never printed: only which sessions have one.
      const shown = { ...file, tokens: Object.fromEntries(Object.keys(file.tokens).map((s) => [s, "(saved)"])) };
      console.log(`${path}\n${JSON.stringify(shown, null, 2)}`);
      return;
    }
    case "set-server": {
      arity(1, "set-server URL");
      clientConfig(["--server", rest[0], "--session", "x", "--token", "", "--to", "1"], {}); // checks the URL(s)
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, server: rest[0] });
      console.log(`Saved the entry ${rest[0]} in ${path}`);
      return;
    }
    case "add-token": {
      arity(2, "add-token SESSION -   (the token typed unseen, or piped in; TOKEN in place of - works but shows in ps)");
      const name = session(rest[0]);
      if (rest[1] !== "-") console.error(TOKEN_ON_COMMAND_LINE.replace("SESSION", name));
      const token = rest[1] === "-" ? await readToken(name) : rest[1];
      if (!token) throw new ConfigError("Empty token");
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, tokens: { ...file.tokens, [name]: token } });
      console.log(`Saved the token of session "${name}" in ${path} (readable by you only)`);
      return;
    }
    case "add-tunnel": {
      arity(2, "add-tunnel SESSION PORT|HOST:PORT|URL");
      localTarget("target", rest[1]);
      const file = readConfigFile(path);
      writeConfigFile(path, { ...file, tunnels: { ...file.tunnels, [session(rest[0])]: { to: rest[1] } } });
      console.log(`Saved tunnel "${rest[0]}" -> ${rest[1]} in ${path}; run them all with  tunnel2 start`);
      return;
    }
    case "remove-tunnel": {
      arity(1, "remove-tunnel SESSION");
      const file = readConfigFile(path);
      if (!(rest[0] in file.tunnels)) throw new ConfigError(`No tunnel "${rest[0]}" in ${path}`);
      const { [rest[0]]: _removed, ...tunnels } = file.tunnels;
      writeConfigFile(path, { ...file, tunnels });
      console.log(`Removed tunnel "${rest[0]}" from ${path}`);
      return;
    }
    default:
      throw new ConfigError(
        `${action === undefined ? "Missing" : `Unknown config action ${JSON.stringify(action)}:`} use one of set-server, add-token, add-tunnel, remove-tunnel, show, path`,
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
