/**
 * tunnel2 installed without a clone:
 * - from the npm tarball: `npm pack`, `npm install -g <tgz> --prefix <tmp>`
 *   (dependencies from the npm registry), then `<prefix>/bin/tunnel2` run from
 *   an unrelated directory with a fresh HOME and a PATH holding Node and the
 *   system only (no Bun there: the launcher must find the package's own);
 * - as the single-file executable of `npm run build:binary`, copied alone
 *   into an empty directory, with no Node, Bun or node_modules on PATH.
 * Each exposes a real target through a real entry, curled at the printed URL.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnUntil, type Started, startEntry, stopAll } from "./helpers/processes.ts";
import { startTarget } from "./helpers/target-server.ts";
import { curl } from "./helpers/visitor.ts";
import { waitFor } from "./helpers/wait.ts";

const ROOT = join(import.meta.dir, "..");
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
const NODE = Bun.which("node");
const NPM = Bun.which("npm");
const SCRATCH = mkdtempSync(join(tmpdir(), "tunnel2-install-"));

/** Runs a command to its end (killed after `timeoutMs`). */
async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}) {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr, timedOut: proc.signalCode === "SIGKILL" };
}

/** What a user's shell would give: their own HOME and config, and a PATH of `extra` and the system's. */
function userEnv(home: string, extra: string[] = []): Record<string, string> {
  mkdirSync(home, { recursive: true });
  return { HOME: home, XDG_CONFIG_HOME: join(home, ".config"), PATH: [...extra, "/usr/bin", "/bin"].join(":") };
}

/** The npm registry answers `npm ping` (dependencies are installed from it). */
async function registryProblem(): Promise<string | undefined> {
  if (!NODE || !NPM) return "node and npm are not on PATH";
  const ping = await run([NPM, "ping"], { timeoutMs: 30_000 });
  if (ping.code !== 0) return `the npm registry is unreachable (npm ping: ${ping.timedOut ? "no answer in 30 s" : ping.stderr.trim().split("\n").pop()})`;
  return undefined;
}
const installSkip = await registryProblem();
if (installSkip) console.warn(`SKIPPED: ${installSkip}; the npm tarball install test did not run`);
if (!NPM) console.warn("SKIPPED: npm is not on PATH, so `npm run build:binary` cannot run; the single-file executable tests did not run");

const target = startTarget();
afterEach(() => stopAll());
afterAll(() => {
  target.stop();
  rmSync(SCRATCH, { recursive: true, force: true });
});

const ENTRY_READY = /entry listening .*address=http:\/\/127\.0\.0\.1:(\d+)/;
const FORWARDING = /Forwarding (\S+) ->/;

/** Curls the public URL a client printed and checks the target answered. */
async function expectTunnelled(client: Started & { match: RegExpMatchArray }) {
  const url = client.match[1];
  expect(url).toMatch(/^http:\/\/[a-z0-9-]+\.localhost:\d+$/);
  const answer = await curl([`${url}/echo?via=${encodeURIComponent(url)}`]);
  expect(answer.stderr).toBe("");
  expect(answer.head).toMatch(/^HTTP\/1\.1 200/);
  const echo = JSON.parse(new TextDecoder().decode(answer.body));
  expect(echo.method).toBe("GET");
  expect(echo.target).toStartWith("/echo?via=");
}

/** Ctrl-C: the client closes its uplinks normally (the entry logs code 1000) and exits 0. */
async function interruptClient(client: Started, entry: Started) {
  client.proc.kill("SIGINT");
  expect(await client.proc.exited).toBe(0);
  await waitFor(() => entry.output().includes("code=1000"), 5000);
}

describe.skipIf(installSkip !== undefined)("npm pack, then npm install -g from the tarball", () => {
  test("the installed tunnel2 answers --version and runs serve and http from another directory", async () => {
    const packed = await run([NPM!, "pack", "--json", "--pack-destination", SCRATCH], { timeoutMs: 60_000 });
    expect(packed.code).toBe(0);
    const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    expect(paths).toContain("bin/tunnel2.mjs");
    expect(paths).toContain("src/cli/main.ts");
    expect(paths).toContain("src/entry/dashboard/index.html");
    expect(paths.filter((p) => /\.test\.ts$|^(test|bench|node_modules|docs|deploy)\//.test(p))).toEqual([]);

    const prefix = join(SCRATCH, "prefix");
    const installed = await run([NPM!, "install", "-g", join(SCRATCH, filename), "--prefix", prefix, "--no-audit", "--no-fund"], {
      cwd: SCRATCH,
      timeoutMs: 180_000,
    });
    if (installed.code !== 0) throw new Error(`npm install -g failed (exit ${installed.code}${installed.timedOut ? ", 180 s" : ""}):\n${installed.stderr}`);
    const tunnel2 = join(prefix, "bin", "tunnel2");

    // A user's project directory, whose .env and bunfig.toml are not tunnel2's: with them, the entry
    // would ask for tokens and Bun would fail on the missing preload script.
    const project = join(SCRATCH, "project");
    mkdirSync(project);
    writeFileSync(join(project, ".env"), "TUNNEL_SECRET=from-the-projects-dotenv\n");
    writeFileSync(join(project, "bunfig.toml"), 'preload = ["./missing-preload.ts"]\n');
    const env = userEnv(join(SCRATCH, "home"), [dirname(NODE!)]);

    const version = await run([tunnel2, "--version"], { cwd: project, env });
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(`tunnel2 ${VERSION}`);

    const entry = await spawnUntil([tunnel2, "serve"], { ...env, PORT: "0", HOSTNAME: "127.0.0.1" }, ENTRY_READY, 30_000, project);
    // Printed right after "entry listening"; "token auth on" had the project's .env been read.
    await waitFor(() => /OPEN DEVELOPMENT MODE|token auth on/.test(entry.output()), 5000);
    expect(entry.output()).toContain("OPEN DEVELOPMENT MODE");
    const client = await spawnUntil(
      [tunnel2, "http", String(target.port), "--server", `http://127.0.0.1:${entry.match[1]}`],
      env,
      FORWARDING,
      30_000,
      project,
    );
    await expectTunnelled(client);
    await interruptClient(client, entry);
    // SIGTERM reaches the launcher only: it passes it on, and the entry drains and stops.
    entry.proc.kill("SIGTERM");
    expect(await entry.proc.exited).toBe(0);
    expect(entry.output()).toContain("entry stopped");
  }, 240_000);
});

/** dist/tunnel2, built by `npm run build:binary` unless it is newer than every source it is built from. */
async function buildBinary(): Promise<string> {
  const binary = join(ROOT, "dist", "tunnel2");
  const newest = (path: string): number => {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.mtimeMs;
    return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
  };
  const sources = Math.max(newest(join(ROOT, "src")), ...["package.json", "package-lock.json", "node_modules/bun/package.json"].map((f) => newest(join(ROOT, f))));
  let built = 0;
  try {
    built = statSync(binary).mtimeMs;
  } catch {
    // not built yet
  }
  if (built <= sources) {
    const build = await run([NPM!, "run", "build:binary"], { timeoutMs: 120_000 });
    if (build.code !== 0) throw new Error(`npm run build:binary failed (exit ${build.code}):\n${build.stdout}\n${build.stderr}`);
  }
  return binary;
}

describe.skipIf(!NPM)("the single-file executable (npm run build:binary)", () => {
  let lone = "";
  let tunnel2 = "";
  const env = () => userEnv(join(SCRATCH, "binary-home"));

  test("alone in an empty directory, it answers --version", async () => {
    const binary = await buildBinary();
    lone = mkdtempSync(join(SCRATCH, "lone-"));
    tunnel2 = join(lone, "tunnel2");
    copyFileSync(binary, tunnel2);
    Bun.spawnSync(["chmod", "+x", tunnel2]);
    expect(readdirSync(lone)).toEqual(["tunnel2"]);
    const version = await run([tunnel2, "--version"], { cwd: lone, env: env() });
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(`tunnel2 ${VERSION}`);
  }, 120_000);

  test("it exposes a target through an entry run from the repository", async () => {
    expect(tunnel2).not.toBe("");
    const entry = await startEntry("bun");
    const client = await spawnUntil([tunnel2, "http", String(target.port), "--server", `http://127.0.0.1:${entry.port}`], env(), FORWARDING, 20_000, lone);
    await expectTunnelled(client);
    await interruptClient(client, entry);
  });

  test("its own serve carries a tunnel and serves the dashboard from the embedded files", async () => {
    expect(tunnel2).not.toBe("");
    const entry = await spawnUntil([tunnel2, "serve"], { ...env(), PORT: "0", HOSTNAME: "127.0.0.1" }, ENTRY_READY, 20_000, lone);
    const origin = `http://127.0.0.1:${entry.match[1]}`;
    const client = await spawnUntil([tunnel2, "http", String(target.port), "--server", origin], env(), FORWARDING, 20_000, lone);
    await expectTunnelled(client);

    const page = await fetch(`${origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    expect(await page.text()).toMatch(/<html[\s>]/i);
    for (const file of ["dashboard.js", "dashboard.css", "uPlot.iife.min.js", "uPlot.min.css"]) {
      const asset = await fetch(`${origin}/dashboard/${file}`);
      expect(asset.status).toBe(200);
      expect((await asset.text()).length).toBeGreaterThan(500);
    }
    await interruptClient(client, entry);
    expect(readdirSync(lone)).toEqual(["tunnel2"]);
  });
});
