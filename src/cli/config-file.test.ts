import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { ConfigError } from "../config/config.ts";
import { type ConfigFile, readConfigFile, writeConfigFile } from "./config-file.ts";

const CONFIG: ConfigFile = { server: "https://tunnel.example.com", tokens: { myapp: "secret-token" }, tunnels: { myapp: { to: "3000" } } };
const VICTIM_TEXT = "another file of the user's\n";

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh 0700 directory of ours, the config path in it, and a file outside it that must not change. */
function place() {
  const root = mkdtempSync(join(tmpdir(), "tunnel2-config-file-"));
  made.push(root);
  const dir = join(root, "tunnel2");
  mkdirSync(dir, { mode: 0o700 });
  const victim = join(root, "victim.txt");
  writeFileSync(victim, VICTIM_TEXT, { mode: 0o600 });
  return { root, dir, path: join(dir, "config.json"), victim };
}

describe("writeConfigFile()", () => {
  test("writes what readConfigFile() reads back, 0600 in a new 0700 directory", () => {
    const root = mkdtempSync(join(tmpdir(), "tunnel2-config-file-"));
    made.push(root);
    const path = join(root, "new", "config.json");
    writeConfigFile(path, CONFIG);
    expect(readConfigFile(path)).toEqual(CONFIG);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, "new")).mode & 0o777).toBe(0o700);
    writeConfigFile(path, { ...CONFIG, tokens: {} });
    expect(readConfigFile(path).tokens).toEqual({});
    expect(readdirSync(join(root, "new"))).toEqual(["config.json"]);
  });

  test("does not write through a symlink planted at the old predictable <config>.<pid>.tmp", () => {
    const { path, victim } = place();
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    writeConfigFile(path, CONFIG);
    expect(readFileSync(victim, "utf8")).toBe(VICTIM_TEXT);
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(readConfigFile(path)).toEqual(CONFIG);
  });

  test("refuses a config path that is a symlink, and leaves its target alone", () => {
    const { path, victim } = place();
    symlinkSync(victim, path);
    expect(() => writeConfigFile(path, CONFIG)).toThrow(ConfigError);
    expect(() => writeConfigFile(path, CONFIG)).toThrow(`${path} is a symbolic link`);
    expect(readFileSync(victim, "utf8")).toBe(VICTIM_TEXT);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
  });

  for (const mode of [0o770, 0o707, 0o777, 0o1777]) {
    test(`refuses a directory others can write to (mode ${mode.toString(8)}) with the fix to type`, () => {
      const { dir, path } = place();
      chmodSync(dir, mode);
      expect(() => writeConfigFile(path, CONFIG)).toThrow(ConfigError);
      expect(() => writeConfigFile(path, CONFIG)).toThrow(`chmod go-w ${dir}`);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  test.skipIf(process.getuid?.() !== 0)("refuses a directory another user owns (run as root)", () => {
    const { dir, path } = place();
    chownSync(dir, 4242, 4242);
    expect(() => writeConfigFile(path, CONFIG)).toThrow("belongs to another user");
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a failed write leaves no temporary file behind", () => {
    const { dir, path } = place();
    mkdirSync(path); // renaming a file over a directory fails
    expect(() => writeConfigFile(path, CONFIG)).toThrow();
    expect(readdirSync(dir)).toEqual(["config.json"]);
  });
});
