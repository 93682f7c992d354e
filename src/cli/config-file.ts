/**
 * The CLI's config file: the entry to use, session tokens, and the tunnels
 * `tunnel2 start` runs. JSON at `$TUNNEL2_CONFIG`, else
 * `$XDG_CONFIG_HOME/tunnel2/config.json`, else `~/.config/tunnel2/config.json`.
 * It holds tokens, so it is written readable by its owner only (0600, in a
 * 0700 directory), and refused when others can read it.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { ConfigError } from "../config.ts";

/** One tunnel of `tunnel2 start`. */
export interface TunnelEntry {
  /** The target: a port, host:port or URL. */
  to: string;
}

export interface ConfigFile {
  /** Entry URL(s), comma-separated like --server. */
  server?: string;
  /** Session → token. */
  tokens: Record<string, string>;
  /** Session → tunnel, for `tunnel2 start`. */
  tunnels: Record<string, TunnelEntry>;
}

/** Where the config file lives. */
export function configPath(env: Record<string, string | undefined> = process.env): string {
  if (env.TUNNEL2_CONFIG) return env.TUNNEL2_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "tunnel2", "config.json");
}

/** Reads the config file; an empty one when it does not exist. Throws ConfigError when it is unsafe or malformed. */
export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new ConfigError(
        `${path} holds tokens but others can read it (mode ${mode.toString(8)}): run  chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if ((err as { code?: string }).code === "ENOENT") return { tokens: {}, tunnels: {} };
    throw new ConfigError(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  const o = raw as Partial<ConfigFile>;
  if (typeof o !== "object" || o === null) throw new ConfigError(`${path}: expected a JSON object`);
  if (o.server !== undefined && typeof o.server !== "string") throw new ConfigError(`${path}: "server" must be a string`);
  const record = (name: string, value: unknown) => {
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${path}: "${name}" must be an object`);
    return value as Record<string, unknown>;
  };
  const tokens = record("tokens", o.tokens);
  for (const [session, token] of Object.entries(tokens)) {
    if (typeof token !== "string") throw new ConfigError(`${path}: the token of "${session}" must be a string`);
  }
  const tunnels = record("tunnels", o.tunnels);
  for (const [session, tunnel] of Object.entries(tunnels)) {
    if (typeof (tunnel as TunnelEntry)?.to !== "string") throw new ConfigError(`${path}: tunnel "${session}" needs "to" (a port or URL)`);
  }
  return { server: o.server, tokens: tokens as Record<string, string>, tunnels: tunnels as Record<string, TunnelEntry> };
}

/** Writes the config file (0600, directory 0700), replacing it whole. */
export function writeConfigFile(path: string, config: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600); // whatever the umask did
  renameSync(temporary, path);
}
