/**
 * The CLI's config file: the entry to use, session tokens, and the tunnels
 * `tunnel2 start` runs. JSON at `$TUNNEL2_CONFIG`, else
 * `$XDG_CONFIG_HOME/tunnel2/config.json`, else `~/.config/tunnel2/config.json`.
 * It holds tokens, so it is written readable by its owner only (0600, in a
 * 0700 directory), and refused when others can read it; it is not written
 * into a directory others can write to, nor through a symbolic link.
 */
import { randomBytes } from "node:crypto";
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { checkedAccess, ConfigError } from "../config/config.ts";
import type { AccessRules } from "../access/access-rules.ts";

/** One tunnel of `tunnel2 start`. */
export interface TunnelEntry {
  /** The target: a port, host:port or URL; tcp://HOST:PORT or tls://HOST:PORT for a TCP or TLS tunnel. */
  to: string;
  /** A TCP tunnel's public port (as --remote-port). */
  remotePort?: number;
  /** Who may reach it (as the hello carries them; secrets may live here, the file is the owner's only). */
  access?: AccessRules;
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
    const remotePort = (tunnel as TunnelEntry).remotePort;
    if (remotePort !== undefined && (!Number.isInteger(remotePort) || remotePort < 1 || remotePort > 65535)) {
      throw new ConfigError(`${path}: tunnel "${session}": remotePort must be a port number (1-65535)`);
    }
    const access = (tunnel as TunnelEntry).access;
    if (access !== undefined) {
      const checked = checkedAccess(access, `${path}: tunnel "${session}": `);
      if (checked) (tunnel as TunnelEntry).access = checked;
      else delete (tunnel as TunnelEntry).access;
    }
  }
  return { server: o.server, tokens: tokens as Record<string, string>, tunnels: tunnels as Record<string, TunnelEntry> };
}

/**
 * Refuses to write the config file where another user could swap or redirect
 * it: a directory others can write to (sticky or not: it is a per-user
 * directory) or that another user (not `uid`) owns, or a config path that is
 * a symlink.
 */
function refuseUnsafePlace(path: string, directory: string, uid: number): void {
  const dir = statSync(directory);
  const mode = dir.mode & 0o7777;
  if ((mode & 0o022) !== 0) {
    throw new ConfigError(
      `${directory} holds the config file but others can write to it (mode ${mode.toString(8)}): run  chmod go-w ${directory}  or set TUNNEL2_CONFIG to a file in a directory of your own`,
    );
  }
  if (dir.uid !== uid) {
    throw new ConfigError(
      `${directory} holds the config file but belongs to another user (uid ${dir.uid}): set TUNNEL2_CONFIG to a file in a directory of your own`,
    );
  }
  let link = false;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
  }
  if (link) {
    throw new ConfigError(
      `${path} is a symbolic link, and tokens are not written through one: set TUNNEL2_CONFIG to the file it points to, or remove the link`,
    );
  }
}

/**
 * Writes the config file (0600, directory 0700), replacing it whole: through
 * a new file of an unguessable name in the same directory, created
 * exclusively without following a link, synced, then renamed over it.
 */
export function writeConfigFile(path: string, config: ConfigFile): void {
  const directory = dirname(path);
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${randomBytes(16).toString("hex")}.tmp`;
  const fd = openSync(temporary, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    try {
      // Who we are is the new file's owner: process.getuid() would need Deno's --allow-sys=uid.
      refuseUnsafePlace(path, directory, fstatSync(fd).uid);
      fchmodSync(fd, 0o600); // whatever the umask did
      writeFileSync(fd, `${JSON.stringify(config, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (err) {
    try {
      unlinkSync(temporary);
    } catch {
      // already gone
    }
    throw err;
  }
}
