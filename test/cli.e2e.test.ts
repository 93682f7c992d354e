/**
 * The `tunnel2` command under Bun and Deno, through a real entry: `http` with
 * a bare port reaching an app on 127.0.0.1 only and one on ::1 only, a target
 * that is not up yet, `start` with two sessions from a config file, the
 * config file's permissions, and the messages a user meets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Entry, type Runtime, spawnUntil, startEntry, stopAll } from "./helpers/processes.ts";
import { freePort } from "./helpers/redis-server.ts";
import { visit } from "./helpers/visitor.ts";
import { eventually } from "./helpers/wait.ts";

const ROOT = join(import.meta.dir, "..");
const DENO = join(ROOT, "node_modules", "deno", "deno");

/** The CLI as a user runs it from the repository, under either runtime. */
function cli(runtime: Runtime, args: string[]): string[] {
  const main = join(ROOT, "src", "cli", "main.ts");
  return runtime === "bun"
    ? [process.execPath, "run", main, ...args]
    : [DENO, "run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys=hostname", "--unstable-no-legacy-abort", main, ...args];
}

/** Runs the CLI to its end. */
async function run(runtime: Runtime, args: string[], env: Record<string, string>) {
  const proc = Bun.spawn(cli(runtime, args), { cwd: tmpdir(), env: { ...process.env, NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

/** A target answering `name`, listening on one loopback address only. */
function target(hostname: string, name: string, port = 0) {
  return Bun.serve({ port, hostname, fetch: () => new Response(name) });
}

/** The session a printed public URL names. */
const sessionOf = (url: string) => new URL(url).hostname.split(".")[0];

let entry: Entry;
let guarded: Entry;
const v4 = target("127.0.0.1", "answered on 127.0.0.1");
const v6 = target("::1", "answered on ::1");

beforeAll(async () => {
  [entry, guarded] = await Promise.all([startEntry("bun"), startEntry("bun", { TUNNEL_SECRET: "cli-test-secret" })]);
});

afterAll(async () => {
  await stopAll();
  v4.stop(true);
  v6.stop(true);
});

describe.each(["bun", "deno"] as Runtime[])("tunnel2 on %s", (runtime) => {
  const home = mkdtempSync(join(tmpdir(), `tunnel2-cli-${runtime}-`));
  const env = { TUNNEL2_CONFIG: join(home, "tunnel2", "config.json"), TUNNEL_SERVER: "" };
  const server = () => `http://127.0.0.1:${entry.port}`;

  test("--version, --help, and what to type instead", async () => {
    expect((await run(runtime, ["--version"], env)).stdout).toMatch(/^tunnel2 \d+\.\d+\.\d+\n$/);
    expect((await run(runtime, ["--help"], env)).stdout).toContain("tunnel2 http PORT|HOST:PORT|URL");
    const noServer = await run(runtime, ["http", "3000"], env);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain("tunnel2 config set-server URL");
    const bare = await run(runtime, ["3000"], env);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("tunnel2 http 3000");
    const flag = await run(runtime, ["http", "3000", "--server", server(), "--nope"], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option --nope");
  });

  for (const [where, app] of [["127.0.0.1", v4], ["::1", v6]] as const) {
    test(`tunnel2 http PORT reaches an app listening on ${where} only`, async () => {
      const client = await spawnUntil(cli(runtime, ["http", String(app.port), "--server", server()]), env, /Forwarding (\S+) ->/);
      const url = client.match[1];
      await eventually(() => (client.output().includes(`Dashboard  ${server()}/`) ? true : undefined));
      const res = await visit(entry.port, sessionOf(url), "/");
      expect(await res.text()).toBe(`answered on ${where}`);
      client.proc.kill("SIGINT");
      expect(await client.proc.exited).toBe(0);
      // Ctrl-C closes the uplinks normally: the entry logs a clean disconnect.
      await eventually(() => (entry.output().includes(`session=${sessionOf(url)} uplink=`) && /code=1000 reason="Client stopped"/.test(entry.output()) ? true : undefined));
    });
  }

  test("a port with nothing listening: the visitor is told, the tunnel stays up, and serves once the app starts", async () => {
    const port = await freePort();
    const client = await spawnUntil(cli(runtime, ["http", String(port), "--server", server()]), env, /Forwarding (\S+) ->/);
    const session = sessionOf(client.match[1]);
    await eventually(() => (client.output().includes("nothing answers at") ? true : undefined));
    const down = await visit(entry.port, session, "/");
    expect(down.status).toBe(502);
    expect(await down.text()).toContain("could not be reached");
    await eventually(() => (/WARN +target unreachable/.test(client.output()) ? true : undefined));
    const late = target("::1", "late on ::1", port);
    try {
      const res = await eventually(async () => {
        const r = await visit(entry.port, session, "/");
        const text = await r.text();
        return r.status === 200 ? text : undefined;
      }, 5000, 200);
      expect(res).toBe("late on ::1");
    } finally {
      late.stop(true);
      client.proc.kill("SIGINT");
    }
  });

  test("tunnel2 config writes a 0600 file, and tunnel2 start runs both of its tunnels", async () => {
    expect((await run(runtime, ["config", "set-server", server()], env)).code).toBe(0);
    for (const [session, port] of [[`one-${runtime}`, v4.port], [`two-${runtime}`, v6.port]] as const) {
      const added = await run(runtime, ["config", "add-tunnel", session, String(port)], env);
      expect(added.code).toBe(0);
    }
    expect(statSync(env.TUNNEL2_CONFIG).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "tunnel2")).mode & 0o777).toBe(0o700);
    const started = await spawnUntil(cli(runtime, ["start"]), env, /Forwarding[^\n]*\n(?:[^\n]*\n)*?Forwarding/);
    for (const [session, answer] of [[`one-${runtime}`, "answered on 127.0.0.1"], [`two-${runtime}`, "answered on ::1"]]) {
      expect(await (await visit(entry.port, session, "/")).text()).toBe(answer);
    }
    started.proc.kill("SIGTERM");
    expect(await started.proc.exited).toBe(0);
  });

  test("tunnel2 start: a refused tunnel stops alone and says why; the others keep serving; none left is exit 1", async () => {
    const own = { ...env, TUNNEL2_CONFIG: join(home, "start-refused", "config.json") };
    const { sessionToken } = await import("../src/entry/session-token.ts");
    const [good, bad] = [`kept-${runtime}`, `untokened-${runtime}`];
    expect((await run(runtime, ["config", "set-server", `http://127.0.0.1:${guarded.port}`], own)).code).toBe(0);
    expect((await run(runtime, ["config", "add-token", good, await sessionToken("cli-test-secret", good)], own)).code).toBe(0);
    expect((await run(runtime, ["config", "add-tunnel", good, String(v4.port)], own)).stderr).toBe("");
    const warned = await run(runtime, ["config", "add-tunnel", bad, String(v4.port)], own);
    expect([warned.code, warned.stderr]).toEqual([0, expect.stringContaining(`No token saved for session "${bad}": fine for an entry in open development mode; one with a secret (TUNNEL_SECRET) refuses it`)]);
    const started = await spawnUntil(cli(runtime, ["start"]), own, /Forwarding[\s\S]*still running|still running[\s\S]*Forwarding/);
    expect(started.output()).toContain(`Tunnel "${bad}" stopped: Refused by the entry: no token for session "${bad}"`);
    expect(started.output()).toContain(`1 of 2 tunnels still running: ${good}`);
    expect(await (await visit(guarded.port, good, "/")).text()).toBe("answered on 127.0.0.1");
    expect(started.output().match(/^Dashboard /gm)).toHaveLength(1);
    started.proc.kill("SIGTERM");
    expect(await started.proc.exited).toBe(0);

    expect((await run(runtime, ["config", "remove-tunnel", good], own)).code).toBe(0);
    const forgot = await run(runtime, ["config", "remove-token", good], own);
    expect([forgot.code, forgot.stdout.trim()]).toEqual([0, `Removed token of session "${good}" from ${own.TUNNEL2_CONFIG}`]);
    expect((await run(runtime, ["config", "remove-token", good], own)).stderr).toContain(`No token of session "${good}" in`);
    expect((await run(runtime, ["config", "add-tunnel", `${bad}-too`, String(v4.port)], own)).code).toBe(0);
    const none = await run(runtime, ["start"], own);
    expect(none.stderr).toContain(`Tunnel "${bad}-too" stopped: Refused by the entry: no token for session "${bad}-too"`);
    expect([none.code, none.stderr.trim().split("\n").at(-1)]).toEqual([1, "No tunnel left running (2 stopped)"]);
  });

  test("a config file others can read is refused with the fix to type", async () => {
    await run(runtime, ["config", "set-server", server()], env);
    chmodSync(env.TUNNEL2_CONFIG, 0o644);
    try {
      const refused = await run(runtime, ["http", "3000"], env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`chmod 600 ${env.TUNNEL2_CONFIG}`);
    } finally {
      chmodSync(env.TUNNEL2_CONFIG, 0o600);
    }
  });

  test("every --help goes to stdout and exits 0; a mistake names what was typed and what would be right", async () => {
    for (const args of [["--help"], ["serve", "--help"], ["http", "--help"], ["start", "--help"], ["token", "--help"], ["config", "--help"], ["config", "show", "--help"]]) {
      const r = await run(runtime, args, env);
      expect({ args, code: r.code, usage: r.stdout.includes("Usage:") || r.stdout.startsWith("tunnel2 "), stderr: r.stderr }).toEqual({ args, code: 0, usage: true, stderr: "" });
    }
    const mistakes: [string[], string][] = [
      [["config"], "Missing action: tunnel2 config set-server|add-token|add-tunnel|remove-tunnel|remove-token|show|path"],
      [["config", "set-server", "tunnel.example.com"], "The entry's URL needs its scheme: tunnel2 config set-server https://tunnel.example.com  (http:// for an entry without TLS)"],
      [["http", "abc"], 'Invalid target: "abc" (expected a port such as 3000, HOST:PORT such as 192.168.1.5:8080, or a URL)'],
      [["http", "70000"], "Invalid target: port 70000 (expected 1-65535)"],
    ];
    for (const [args, message] of mistakes) {
      const r = await run(runtime, args, env);
      expect({ args, code: r.code, said: r.stderr.split("\n")[0] }).toEqual({ args, code: 2, said: message });
    }
  });

  test("an entry with a secret refuses a made-up session or a missing token, saying what to do; a saved token works", async () => {
    const refused = await run(runtime, ["http", String(v4.port), "--server", `http://127.0.0.1:${guarded.port}`], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("Refused by the entry: it needs a session name and that session's token");
    expect(refused.stderr).toContain("tunnel2 http PORT --session NAME");
    const tokenless = await run(runtime, ["http", String(v4.port), "--server", `http://127.0.0.1:${guarded.port}`, "--session", "unsaved"], env);
    expect(tokenless.code).toBe(1);
    expect(tokenless.stderr).toContain('Refused by the entry: no token for session "unsaved"');
    expect(tokenless.stderr).toContain("tunnel2 config add-token unsaved -");
    const session = `saved-${runtime}`;
    const { sessionToken } = await import("../src/entry/session-token.ts");
    const token = await sessionToken("cli-test-secret", session);
    const saved = await run(runtime, ["config", "add-token", session, token], env);
    expect(saved.code).toBe(0);
    expect(saved.stdout + saved.stderr).not.toContain(token);
    const shown = await run(runtime, ["config", "show"], env);
    expect(shown.stdout).not.toContain(token);
    const client = await spawnUntil(
      cli(runtime, ["http", String(v4.port), "--server", `http://127.0.0.1:${guarded.port}`, "--session", session]),
      env,
      /Forwarding (\S+) ->/,
    );
    expect(await (await visit(guarded.port, session, "/")).text()).toBe("answered on 127.0.0.1");
    expect(client.output()).not.toContain(token);
    client.proc.kill("SIGINT");
  });
});
