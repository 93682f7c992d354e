/**
 * The shell commands of the README and the docs pages work as written after `npm ci` on a machine
 * with only Node and npm: none calls `bun`, `deno` or `tunnel2` from PATH
 * (npm scripts, npx and node_modules/.bin find them), each npm script, Deno
 * task, local binary and source file it names exists, and each way of
 * starting our programs answers `--help` with bun and deno off PATH.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runGroup } from "./helpers/group.ts";

// The README first (its Install section puts tunnel2 on PATH for what follows), then the docs pages.
const pages = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)];
const readme = pages.map((page) => readFileSync(join(ROOT, page), "utf8")).join("\n");
const scripts: Record<string, string> = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts;
const tasks: Record<string, unknown> = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).tasks;

/** Every simple command of the README's sh blocks: continuations joined, comments dropped, split at ; && || | &. */
function readmeCommands(): string[] {
  const blocks = [...readme.matchAll(/^```(?:sh|bash|shell)\n([^]*?)^```/gm)].map((m) => m[1]);
  return blocks.flatMap((block) =>
    block.replace(/\\\n/g, " ").split("\n")
      .map((line) => line.replace(/(^|\s)#.*$/, ""))
      .flatMap((line) => line.split(/&&|\|\||[;|&]/))
      .map((command) => command.trim())
      .filter((command) => command !== "")
  );
}

/** The words of a command, less leading VAR=value assignments. */
function words(command: string): string[] {
  const all = command.split(/\s+/);
  while (all.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(all[0])) all.shift();
  return all;
}

/** What a command that runs our code goes through, or undefined for other commands (curl, kill…). */
interface Launch {
  /** The command up to the script, task or file: run with --help below. */
  prefix: string[];
}

/** Set once the README has installed the packed tarball globally (commands are checked in README order). */
let installedGlobally = false;

/** Checks one command; returns how it launches our code, if it does. Throws with the reason when it would not work. */
function check(command: string): Launch | undefined {
  const w = words(command);
  const [program, ...args] = w;
  if (program === undefined) return undefined; // assignments only
  // `npm install -g ./tunnel2-*.tgz` (the Install section) puts tunnel2 itself on PATH.
  if (program === "tunnel2" && installedGlobally) return undefined;
  if (["bun", "deno", "bunx", "tunnel2"].includes(program)) {
    throw new Error(`${command}: ${program} is not on a Node-only PATH (use npm run, npx or node_modules/.bin)`);
  }
  let rest: string[];
  let prefix: string[];
  if (program === "npm") {
    const i = args.findIndex((a) => !a.startsWith("-"));
    const verb = args[i];
    if (verb === "install" && args.includes("-g") && args.some((a) => /tunnel2-.*\.tgz$/.test(a))) installedGlobally = true;
    if (verb === "ci" || verb === "install" || verb === "pack") return undefined;
    const script = verb === "run" ? args.slice(i + 1).find((a) => !a.startsWith("-"))! : verb;
    if (!(script in scripts)) throw new Error(`${command}: no npm script "${script}"`);
    if (!["tunnel2", "serve", "client", "token"].includes(script)) return undefined; // npm start, npm test: not with --help
    prefix = w.slice(0, w.indexOf(script) + 1).concat("--");
    return { prefix };
  } else if (program === "npx") {
    const i = args.findIndex((a) => !a.startsWith("-"));
    const bin = args[i];
    // npx runs node_modules/.bin's, or downloads what it does not find there: never that.
    if (!existsSync(join(ROOT, "node_modules", ".bin", bin))) throw new Error(`${command}: npx would download ${bin}`);
    rest = args.slice(i + 1);
    prefix = w.slice(0, i + 2);
    if (bin !== "bun" && bin !== "deno") return undefined;
  } else if (program.startsWith("node_modules/") || program.startsWith("./node_modules/")) {
    if (!existsSync(join(ROOT, program))) throw new Error(`${command}: no ${program}`);
    rest = args;
    prefix = [program];
  } else {
    return undefined;
  }
  // bun or deno, from node_modules.
  if (rest[0] === "task") {
    if (!(rest[1] in tasks)) throw new Error(`${command}: no Deno task "${rest[1]}"`);
    return { prefix: [...prefix, "task", rest[1]] };
  }
  const fileAt = rest[0] === "run" ? 1 : 0;
  const file = rest[fileAt];
  if (!file?.endsWith(".ts") || !existsSync(join(ROOT, file))) throw new Error(`${command}: no file ${file}`);
  return { prefix: [...prefix, ...rest.slice(0, fileAt + 1)] };
}

const commands = readmeCommands();

describe("the README's commands need only Node and npm", () => {
  test("the README's sh blocks start entries and clients", () => {
    expect(commands.some((c) => /\bserve\b|src\/server\.ts/.test(c))).toBe(true);
    expect(commands.some((c) => /\bhttp \d+|src\/client\.ts|\bstart$/.test(c))).toBe(true);
  });

  const launches = new Map<string, string[]>();
  test.each(commands)("%s", (command) => {
    const launch = check(command);
    if (launch) launches.set(launch.prefix.join(" "), launch.prefix);
  });

  test("each way of starting our programs answers --help with bun and deno off PATH", async () => {
    // A PATH with node, npm and npx, and sh for npm's scripts: nothing else.
    const bin = mkdtempSync(join(tmpdir(), "tunnel2-node-only-"));
    try {
      for (const tool of ["node", "npm", "npx", "sh"]) symlinkSync(Bun.which(tool)!, join(bin, tool));
      expect(Bun.which("bun", { PATH: bin }) ?? Bun.which("deno", { PATH: bin })).toBeNull();
      expect(launches.size).toBeGreaterThanOrEqual(5);
      for (const [name, prefix] of launches) {
        const run = await runGroup([...prefix, "--help"], { PATH: bin, TUNNEL_SECRET: "x" }, undefined, 60_000);
        if (run.code !== 0) throw new Error(`${name} --help: exit ${run.code}\n${run.output}`);
        expect(run.output).toMatch(/Usage/);
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }, 120_000);
});
